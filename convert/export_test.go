package convert

import "io"

// For the external tests (package convert_test), which share
// internal/plaingen's value generator with the interop tests.

// CheckWeightsOnlyPickle is checkPickle for WriteObject's pickles.
func CheckWeightsOnlyPickle(b []byte) error { return checkPickle(b, weightsOnly) }

// CheckLongPickle is checkPickle for WriteObjectLong's pickles.
func CheckLongPickle(b []byte) error { return checkPickle(b, longDialect) }

// WriteObjectLong is WriteObject with LONG4, BINFLOAT and BINBYTES, which
// torch's weights-only unpickler lacks but gnconv's reader reads.
func WriteObjectLong(w io.Writer, root interface{}, ordered bool) error {
	return writeObject(w, root, ordered, longDialect)
}
