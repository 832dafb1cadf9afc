package gateway

import (
	"os"
	"path/filepath"
	"testing"
)

// Every directory under examples/ is a configuration a user may copy: it
// must load and compile cleanly, without warnings.
func TestExamplesLoad(t *testing.T) {
	t.Parallel()
	dirs, err := os.ReadDir("../examples")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		t.Run(d.Name(), func(t *testing.T) {
			sum, problems, _, err := Check(Options{ConfigPaths: []string{filepath.Join("../examples", d.Name())}})
			if err != nil {
				t.Fatalf("example does not load: %v", err)
			}
			for _, p := range problems {
				t.Errorf("example has a warning: %s", p)
			}
			if len(sum.Listeners) == 0 {
				t.Error("example opens no listener")
			}
		})
	}
	if n == 0 {
		t.Fatal("no examples found")
	}
}
