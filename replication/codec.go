package replication

import "fmt"

// ResponseCodec turns an FSM response into bytes on the leader and back on
// a forwarding follower, so a forwarded Apply returns what a local one
// would. Errors never go through the codec: they travel as RemoteError.
// Both methods are called concurrently from request goroutines.
type ResponseCodec interface {
	EncodeResponse(resp any) ([]byte, error)
	DecodeResponse(b []byte) (any, error)
}

// BytesCodec, the default, carries nil and []byte responses (a string is
// sent as bytes and arrives as []byte). Any other type fails with
// ErrUnencodableResponse: an FSM with richer responses supplies its own codec.
type BytesCodec struct{}

// EncodeResponse implements ResponseCodec.
func (BytesCodec) EncodeResponse(resp any) ([]byte, error) {
	switch v := resp.(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	return nil, fmt.Errorf("%w: %T", ErrUnencodableResponse, resp)
}

// DecodeResponse implements ResponseCodec; an empty body decodes as nil.
func (BytesCodec) DecodeResponse(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}
