// Command dirhash prints Go's dirhash "h1:" hash of each directory argument, computed by
// golang.org/x/mod/sumdb/dirhash: the library csctl uses for its stack hash. The test suite
// builds it as an oracle for csops's Python implementation.
package main

import (
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/dirhash"
)

func main() {
	for _, dir := range os.Args[1:] {
		h, err := dirhash.HashDir(dir, "", dirhash.DefaultHash)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(h)
	}
}
