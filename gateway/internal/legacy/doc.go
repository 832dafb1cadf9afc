// Package legacy translates the older forms users still paste into the
// Istio resources gatehouse serves: Kubernetes Ingresses (extensions and
// networking.k8s.io, class "istio") become a Gateway per Ingress and
// VirtualServices per rule, and Istio 0.x config.istio.io RouteRules
// become VirtualServices and the DestinationRule subsets their labels
// name. Translate runs at load, before compile; the generated resources
// point at the user's document, so problems found later name the user's
// file and line. Only gateway's compile imports it.
package legacy
