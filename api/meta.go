package api

import "time"

// Meta is the metadata of one configuration resource, as read from its
// `metadata:` block. Namespace is never empty once the loader has filled it
// ("default" when the YAML leaves it out).
type Meta struct {
	Name              string            `yaml:"name"`
	Namespace         string            `yaml:"namespace"`
	Labels            map[string]string `yaml:"labels"`
	Annotations       map[string]string `yaml:"annotations"`
	CreationTimestamp time.Time         `yaml:"creationTimestamp"`
}

// Key returns "namespace/name", the form used in logs and error messages.
func (m Meta) Key() string { return m.Namespace + "/" + m.Name }

// WorkloadSelector selects workloads by labels; it is ignored.
type WorkloadSelector struct {
	Labels      map[string]string `yaml:"labels"`
	MatchLabels map[string]string `yaml:"matchLabels"`
}
