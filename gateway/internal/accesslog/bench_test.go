package accesslog

import (
	"io"
	"testing"
)

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

var _ io.Writer = discard{}

// BenchmarkAccessLog measures Log (format + hand-off to the writer) for the
// default formats, and formatting alone.
func BenchmarkAccessLog(b *testing.B) {
	e := proxied()
	for _, enc := range []string{"TEXT", "JSON"} {
		f, err := NewFormat(enc, "")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(enc+"/format", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 2048)
			for b.Loop() {
				buf = f.Append(buf[:0], e)
			}
			b.SetBytes(int64(len(buf)))
		})
		b.Run(enc+"/Log", func(b *testing.B) {
			l := startWriter("bench", f, discard{}, nil, queueDepth)
			b.ReportAllocs()
			for b.Loop() {
				l.Log(e)
			}
			b.StopTimer()
			l.Close()
			b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
		})
		b.Run(enc+"/Log-parallel", func(b *testing.B) {
			l := startWriter("bench", f, discard{}, nil, queueDepth)
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
