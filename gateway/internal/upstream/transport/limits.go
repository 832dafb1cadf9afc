package transport

import (
	"fmt"
	"time"
)

// Limits are a cluster's connection-pool settings (Envoy circuit
// breakers and connection options). Zero means unlimited or default.
type Limits struct {
	MaxConnections       int
	MaxPending           int
	MaxRequests          int64
	MaxRetries           int64
	MaxRequestsPerConn   int
	IdleTimeout          time.Duration
	ConnectTimeout       time.Duration
	MaxConnDuration      time.Duration // tcp.maxConnectionDuration
	UpgradeH2, KeepProto bool
}

// PoolSettings is the part of the limits that shapes the connections
// themselves; pools with different settings are different pools.
func (l Limits) PoolSettings() string {
	if l.MaxConnections == 0 && l.MaxRequestsPerConn == 0 && l.IdleTimeout == 0 && l.MaxConnDuration == 0 {
		return ""
	}
	return fmt.Sprintf("conns=%d pending=%d perconn=%d idle=%s life=%s", l.MaxConnections, l.MaxPending, l.MaxRequestsPerConn, l.IdleTimeout, l.MaxConnDuration)
}
