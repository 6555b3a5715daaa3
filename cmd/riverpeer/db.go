package main

import (
	"context"
	"fmt"
	"io"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// dbName is what `riverpeer db` accepts: a plain lower-case identifier, so the name
// needs no quoting anywhere (URLs, shells).
var dbName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// freshDB is `riverpeer db fresh|drop NAME`, for `go tool task bench:peer`: through
// the server DATABASE_URL names, fresh drops the database NAME if it exists, creates
// it empty and prints its URL; drop drops it.
func freshDB(ctx context.Context, out io.Writer, dsn string, args []string) error {
	if len(args) != 2 || (args[0] != "fresh" && args[0] != "drop") || !dbName.MatchString(args[1]) {
		return usageError{"usage: riverpeer db fresh|drop NAME (NAME: lower-case letters, digits, _)"}
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil || !urlPath.MatchString(dsn) {
		return usageError{"DATABASE_URL is not a postgres:// URL"}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	name := pgx.Identifier{args[1]}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database: %w", err)
	}
	if args[0] == "drop" {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	fmt.Fprintln(out, withDatabase(dsn, args[1]))
	return nil
}

// urlPath is the database part of a postgres:// URL.
var urlPath = regexp.MustCompile(`^(postgres(?:ql)?://[^/?]*)(/[^?]*)?`)

// withDatabase returns dsn (a URL) naming database name instead.
func withDatabase(dsn, name string) string {
	return urlPath.ReplaceAllString(dsn, "${1}/"+name)
}
