// Package pgmigrate applies the embedded, numbered SQL migrations of each part of the
// monolith. Every part (the event store, each module, each projection) owns one Set with
// its own version table, so no part ever edits another part's history.
//
// The migrations are run by jackc/tern (from the author of pgx): it works on a *pgx.Conn,
// reads an fs.FS, keeps one version row per set and serialises concurrent migrators with
// an advisory lock, which is all this project needs and nothing it would have to write.
//
// Layering (README.md, "Architecture: layers and imports"): floor 0, a leaf: it imports
// nothing of the project and must never import modules/..., projections, web or cmd/;
// the owners hand it their Set instead.
package pgmigrate

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

// Set is one owner's migrations: files named NNN_title.sql in the root of FS.
type Set struct {
	// Name identifies the owner; the version table is schema_version_<Name>.
	Name string
	// FS holds the migration files.
	FS fs.FS
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// Apply migrates every set, in the order given, to its latest version. It is idempotent.
func Apply(ctx context.Context, pool *pgxpool.Pool, sets ...Set) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgmigrate: acquire connection: %w", err)
	}
	defer conn.Release()
	for _, set := range sets {
		if !validName.MatchString(set.Name) {
			return fmt.Errorf("pgmigrate: invalid set name %q", set.Name)
		}
		m, err := migrate.NewMigrator(ctx, conn.Conn(), "schema_version_"+set.Name)
		if err != nil {
			return fmt.Errorf("pgmigrate: %s: %w", set.Name, err)
		}
		if err := m.LoadMigrations(set.FS); err != nil {
			return fmt.Errorf("pgmigrate: %s: load: %w", set.Name, err)
		}
		if err := m.Migrate(ctx); err != nil {
			return fmt.Errorf("pgmigrate: %s: %w", set.Name, err)
		}
	}
	return nil
}

// Version reports the applied version of a set (0 when none is applied yet).
func Version(ctx context.Context, pool *pgxpool.Pool, set Set) (int32, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("pgmigrate: acquire connection: %w", err)
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), "schema_version_"+set.Name)
	if err != nil {
		return 0, fmt.Errorf("pgmigrate: %s: %w", set.Name, err)
	}
	v, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("pgmigrate: %s: %w", set.Name, err)
	}
	return v, nil
}

// Embedded is the Set of an owner whose migrations are embedded under "migrations/"
// (//go:embed migrations/*.sql).
func Embedded(name string, fsys fs.FS) Set {
	sub, err := fs.Sub(fsys, "migrations")
	if err != nil {
		panic(err) // fs.Sub fails only for an invalid path, and this one is a constant
	}
	return Set{Name: name, FS: sub}
}
