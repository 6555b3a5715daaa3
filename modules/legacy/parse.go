package legacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// ParseLine reads one line of an import file (CONTRACT.md): a single JSON object with
// only Row's fields. A field of the wrong type, an unknown field or anything after the
// object is an error (the import names the line and imports nothing). It checks only
// the shape: Import refuses a row whose table or id is not a legacy run's.
func ParseLine(line []byte) (Row, error) {
	var row Row
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&row); err != nil {
		return Row{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) { // More misses a stray ] or }
		return Row{}, errors.New("more than one JSON value on the line")
	}
	return row, nil
}
