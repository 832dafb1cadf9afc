package gateway

import (
	"os"
	"testing"
)

// TestMain runs the package's tests, or, when the test binary is started
// again by a test as a child process (GATEHOUSE_TEST_CHILD names which),
// that child's part: a gateway under a lowered file descriptor limit.
func TestMain(m *testing.M) {
	switch os.Getenv("GATEHOUSE_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "fd-exhaustion":
		os.Exit(fdExhaustionChild())
	default:
		os.Exit(2)
	}
}
