package main

import (
	"fmt"
	"io"
)

func pkiCmd(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "gatehouse pki: not built yet")
	return 1
}
