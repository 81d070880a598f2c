//go:build !unix

package convert

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs here") }
