package tenancy

import "errors"

// ErrNotFound means the thing asked for does not exist or is not visible to the caller.
var ErrNotFound = errors.New("tenancy: not found")

// ErrForbidden means the caller is a member but lacks the capability.
var ErrForbidden = errors.New("tenancy: forbidden")

// ErrConflict means the change collides with existing state (a taken name or email).
var ErrConflict = errors.New("tenancy: conflict")

// ErrInvalid means an argument is malformed (bad role, short password, empty name).
var ErrInvalid = errors.New("tenancy: invalid")

// ErrUnauthenticated means the credentials (password or API token) were not accepted.
var ErrUnauthenticated = errors.New("tenancy: unauthenticated")
