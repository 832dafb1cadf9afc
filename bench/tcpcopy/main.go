// Command tcpcopy is the plain Go TCP forwarder of bench/peers.sh's TCP
// scenario: accept, dial the upstream, io.Copy both ways (splice on Linux).
//
//	tcpcopy LISTEN_ADDR UPSTREAM_ADDR
package main

import (
	"io"
	"log"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: tcpcopy LISTEN_ADDR UPSTREAM_ADDR")
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go forward(c.(*net.TCPConn), os.Args[2])
	}
}

func forward(down *net.TCPConn, addr string) {
	defer down.Close()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	up := c.(*net.TCPConn)
	defer up.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(up, down)
		up.CloseWrite()
		close(done)
	}()
	io.Copy(down, up)
	down.CloseWrite()
	<-done
}
