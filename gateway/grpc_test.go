package gateway

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpcRoute is the VirtualService's route to the gRPC ServiceEntry.
const grpcRoute = "route: [{destination: {host: health.internal, port: {number: 8000}}}]\n"

// grpcConfig routes grpc.example.com, on a Gateway port of protocol
// gwProto, to a ServiceEntry whose GRPC port (so: h2c upstream) is
// 127.0.0.1:port. extra is inserted before the catch-all route.
func grpcConfig(gwProto string, port uint32, extra string) map[string]string {
	return map[string]string{
		"gw.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: grpc, protocol: %s}
    hosts: ["*"]
`, gwProto),
		"vs.yaml": `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: [grpc.example.com]
  gateways: [gw]
  http:
` + extra + "  - " + grpcRoute,
		"se.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: health}
spec:
  hosts: [health.internal]
  ports: [{number: 8000, name: grpc, protocol: GRPC}]
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports: {grpc: %d}
`, port),
	}
}

// grpcUpstream serves hs with a real grpc-go server over plaintext HTTP/2
// and returns its port. calls counts the RPCs that reached it; md
// receives the incoming metadata of each unary call, and every unary
// call answers with header x-up-header and trailer x-up-trailer.
type grpcUp struct {
	port  uint32
	calls atomic.Int32
	md    chan metadata.MD
}

func grpcUpstream(t *testing.T, hs healthpb.HealthServer) *grpcUp {
	t.Helper()
	up := &grpcUp{md: make(chan metadata.MD, 16)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			up.calls.Add(1)
			md, _ := metadata.FromIncomingContext(ctx)
			select {
			case up.md <- md:
			default:
			}
			grpc.SetHeader(ctx, metadata.Pairs("x-up-header", "h1"))
			grpc.SetTrailer(ctx, metadata.Pairs("x-up-trailer", "t1"))
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			up.calls.Add(1)
			return h(srv, ss)
		}),
	)
	healthpb.RegisterHealthServer(s, hs)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	up.port = portOf(t, ln.Addr())
	return up
}

// grpcClient dials the gateway's port 80 with the given :authority.
func grpcClient(t *testing.T, g *gw, authority string) healthpb.HealthClient {
	t.Helper()
	conn, err := grpc.NewClient(g.srv.Addr(80).String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority(authority))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func grpcCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A unary call goes through in both directions: the response, the
// client's metadata to the upstream, and the upstream's headers and
// trailers (grpc-status included) back to the client.
func TestGRPCUnary(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"GRPC", "HTTP2"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			up := grpcUpstream(t, grpchealth.NewServer())
			g := startGW(t, grpcConfig(proto, up.port, ""))
			c := grpcClient(t, g, "grpc.example.com")

			ctx := metadata.AppendToOutgoingContext(grpcCtx(t), "x-user", "alice")
			var hdr, trl metadata.MD
			resp, err := c.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&hdr), grpc.Trailer(&trl))
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("status %v, want SERVING", resp.GetStatus())
			}
			md := <-up.md
			if got := md.Get("x-user"); len(got) != 1 || got[0] != "alice" {
				t.Errorf("upstream saw x-user %q, want [alice]", got)
			}
			if got := md.Get(":authority"); len(got) != 1 || got[0] != "grpc.example.com" {
				t.Errorf("upstream saw :authority %q", got)
			}
			if got := hdr.Get("x-up-header"); len(got) != 1 || got[0] != "h1" {
				t.Errorf("client got header x-up-header %q, want [h1]", got)
			}
			if got := trl.Get("x-up-trailer"); len(got) != 1 || got[0] != "t1" {
				t.Errorf("client got trailer x-up-trailer %q, want [t1] (trailers %v)", got, trl)
			}
		})
	}
}

// A server stream is relayed message by message: a status change made
// after the first message reaches the client on the same open stream.
func TestGRPCServerStreaming(t *testing.T) {
	t.Parallel()
	hs := grpchealth.NewServer()
	hs.SetServingStatus("shop", healthpb.HealthCheckResponse_SERVING)
	up := grpcUpstream(t, hs)
	g := startGW(t, grpcConfig("GRPC", up.port, ""))
	c := grpcClient(t, g, "grpc.example.com")

	stream, err := c.Watch(grpcCtx(t), &healthpb.HealthCheckRequest{Service: "shop"})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if m, err := stream.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first message %v, %v; want SERVING", m.GetStatus(), err)
	}
	hs.SetServingStatus("shop", healthpb.HealthCheckResponse_NOT_SERVING)
	if m, err := stream.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("second message %v, %v; want NOT_SERVING", m.GetStatus(), err)
	}
}

// slowHealth answers Check after 2s, or when the call is cancelled.
type slowHealth struct {
	healthpb.UnimplementedHealthServer
	cancelled chan struct{}
}

func (s *slowHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		close(s.cancelled)
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// Errors the gateway itself produces reach a gRPC client as gRPC statuses
// (trailers-only replies), with the HTTP status mapped as Envoy maps it
// and the local reply body as the message.
func TestGRPCLocalReplies(t *testing.T) {
	t.Parallel()
	t.Run("no route", func(t *testing.T) {
		t.Parallel()
		up := grpcUpstream(t, grpchealth.NewServer())
		g := startGW(t, grpcConfig("GRPC", up.port, ""))
		_, err := grpcClient(t, g, "other.example.com").Check(grpcCtx(t), &healthpb.HealthCheckRequest{})
		wantGRPCStatus(t, err, codes.Unimplemented, "") // 404 NR
		if n := up.calls.Load(); n != 0 {
			t.Errorf("upstream got %d calls", n)
		}
	})
	t.Run("upstream down", func(t *testing.T) {
		t.Parallel()
		g := startGW(t, grpcConfig("GRPC", closedPort(t), ""))
		_, err := grpcClient(t, g, "grpc.example.com").Check(grpcCtx(t), &healthpb.HealthCheckRequest{})
		wantGRPCStatus(t, err, codes.Unavailable, proxy.BodyConnect) // 503 UF
	})
	t.Run("route timeout", func(t *testing.T) {
		t.Parallel()
		slow := &slowHealth{cancelled: make(chan struct{})}
		up := grpcUpstream(t, slow)
		g := startGW(t, grpcConfig("GRPC", up.port, "  - timeout: 100ms\n    "+grpcRoute))
		start := time.Now()
		_, err := grpcClient(t, g, "grpc.example.com").Check(grpcCtx(t), &healthpb.HealthCheckRequest{})
		// 504 UT: Envoy maps 504 to UNAVAILABLE, not DEADLINE_EXCEEDED.
		wantGRPCStatus(t, err, codes.Unavailable, proxy.BodyTimeout)
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("took %v with a 100ms route timeout", took)
		}
		select {
		case <-slow.cancelled:
		case <-time.After(1500 * time.Millisecond):
			t.Error("the upstream call was not cancelled after the route timed out")
		}
	})
}

// A fault abort answers gRPC requests itself, never reaching the upstream:
// grpcStatus gives that code as is, httpStatus the code Envoy maps it to.
func TestGRPCFaultAbort(t *testing.T) {
	t.Parallel()
	up := grpcUpstream(t, grpchealth.NewServer())
	faults := ""
	for _, f := range []struct{ name, abort string }{
		{"unavailable", "grpcStatus: UNAVAILABLE"},
		{"exhausted", "grpcStatus: RESOURCE_EXHAUSTED"},
		{"forbidden", "httpStatus: 403"},
	} {
		faults += fmt.Sprintf(`  - match: [{headers: {x-fault: {exact: %s}}}]
    fault: {abort: {%s, percentage: {value: 100}}}
    %s`, f.name, f.abort, grpcRoute)
	}
	g := startGW(t, grpcConfig("GRPC", up.port, faults))
	c := grpcClient(t, g, "grpc.example.com")
	for _, tc := range []struct {
		fault string
		code  codes.Code
	}{
		{"unavailable", codes.Unavailable},
		{"exhausted", codes.ResourceExhausted},
		{"forbidden", codes.PermissionDenied},
	} {
		ctx := metadata.AppendToOutgoingContext(grpcCtx(t), "x-fault", tc.fault)
		_, err := c.Check(ctx, &healthpb.HealthCheckRequest{})
		wantGRPCStatus(t, err, tc.code, proxy.BodyFault)
	}
	if n := up.calls.Load(); n != 0 {
		t.Errorf("upstream got %d calls, want none", n)
	}
	// Without the header the same route reaches the upstream.
	if _, err := c.Check(grpcCtx(t), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("unfaulted Check: %v", err)
	}
}

func wantGRPCStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v is not a gRPC status", err)
	}
	if st.Code() != code || st.Message() != msg {
		t.Errorf("got %v %q, want %v %q", st.Code(), st.Message(), code, msg)
	}
}
