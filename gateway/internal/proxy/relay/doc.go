// Package relay copies bytes between a downstream and an upstream
// connection once HTTP is done with them: forwarded TCP connections and
// upgraded ones (WebSocket, CONNECT). Pipe copies one direction and
// half-closes; WSRelay copies a WebSocket upstream's frames to the client
// so that shutdown can send a close frame between frames; Tracker holds
// the hijacked connections shutdown must close; WatchIdle ends a TCP
// connection idle in both directions.
package relay
