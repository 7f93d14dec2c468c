// A go-fuse loopback for the bench (bench/run.ts): go-fuse's own fs.NewLoopbackRoot, mounted with the
// cache timeouts given on the command line so every daemon in a run gets the same ones.
//
//	go-loopback -entry 0 -attr 0 -negative 0 SOURCE MOUNTPOINT
//
// Built at bench time against Debian's golang-github-hanwen-go-fuse-dev (GOPATH mode, no network).
// Prints "ready" once mounted and serves until unmounted.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

func main() {
	entry := flag.Float64("entry", 0, "entry timeout, seconds")
	attr := flag.Float64("attr", 0, "attribute timeout, seconds")
	negative := flag.Float64("negative", 0, "negative entry timeout, seconds")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: go-loopback [-entry S] [-attr S] [-negative S] SOURCE MOUNTPOINT")
		os.Exit(2)
	}
	seconds := func(s float64) *time.Duration { d := time.Duration(s * float64(time.Second)); return &d }
	root, err := fs.NewLoopbackRoot(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loopback root:", err)
		os.Exit(1)
	}
	opts := &fs.Options{
		EntryTimeout:    seconds(*entry),
		AttrTimeout:     seconds(*attr),
		NegativeTimeout: seconds(*negative),
		MountOptions: fuse.MountOptions{
			// mount(2) directly (the bench runs as root), so no fusermount binary is needed.
			DirectMount: true,
			FsName:      "go-loopback",
			Name:        "go-loopback",
		},
	}
	server, err := fs.Mount(flag.Arg(1), root, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mount:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	server.Wait()
}
