package transport

import (
	"io"
	"net/http"
	"time"
)

// testClient is the client's side of a request without a body, as the
// proxy's would be.
type testClient struct{ o *Request }

func (c testClient) Replayable() bool                      { return c.o.Upgrade == "" }
func (testClient) Rewind()                                 {}
func (c testClient) TrailerBody() (http.Header, io.Reader) { return nil, c.o.Body }
func (testClient) BodyReadDeadline(time.Time) bool         { return true }
func (testClient) BodyEnd()                                {}
func (testClient) SendingBody()                            {}
func (testClient) AbortBody()                              {}
func (testClient) BodyRefused() error                      { return nil }

// newTestRequest describes r for the engines as the proxy prepares it,
// before the route's path.
func newTestRequest(r *http.Request) *Request {
	o := &Request{Fields: r.Header, Method: r.Method, RawQuery: r.URL.RawQuery, Host: r.Host, ConnectTimeout: 10 * time.Second}
	o.Client = testClient{o}
	return o
}
