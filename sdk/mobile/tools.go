//go:build tools

package mobile

// gomobile bind needs golang.org/x/mobile/bind resolvable from this module; this import pins
// its version in go.mod and go.sum. The build tag keeps it out of every real build.
import _ "golang.org/x/mobile/bind"
