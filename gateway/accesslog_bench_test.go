package gateway

import (
	"io"
	"testing"
)

type alDiscard struct{}

func (alDiscard) Write(p []byte) (int, error) { return len(p), nil }

var _ io.Writer = alDiscard{}

// BenchmarkAccessLog measures Log (format + hand-off to the writer) for the
// default formats, and formatting alone.
func BenchmarkAccessLog(b *testing.B) {
	e := alProxied()
	for _, enc := range []string{"TEXT", "JSON"} {
		f, err := compileAccessLogFormat(enc, "")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(enc+"/format", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 2048)
			for b.Loop() {
				buf = f.append(buf[:0], e)
			}
			b.SetBytes(int64(len(buf)))
		})
		b.Run(enc+"/Log", func(b *testing.B) {
			l := startAccessLog("bench", f, alDiscard{}, nil, accessLogQueueDepth)
			b.ReportAllocs()
			for b.Loop() {
				l.Log(e)
			}
			b.StopTimer()
			l.Close()
			b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
		})
		b.Run(enc+"/Log-parallel", func(b *testing.B) {
			l := startAccessLog("bench", f, alDiscard{}, nil, accessLogQueueDepth)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.Log(e)
				}
			})
			b.StopTimer()
			l.Close()
			b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
		})
	}
}
