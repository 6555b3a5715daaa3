package failure_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/failure"
)

// requireSanitized checks the invariants every Sanitize output holds.
func requireSanitized(t *testing.T, in, out string) {
	t.Helper()
	require.True(t, utf8.ValidString(out), "valid UTF-8: %q", out)
	require.LessOrEqual(t, utf8.RuneCountInString(out), failure.MaxMessageLen+1, "capped: %q", in)
	require.False(t, strings.ContainsFunc(out, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	}), "single line: %q", out)
	require.Equal(t, strings.TrimSpace(out), out, "trimmed")
	require.Equal(t, out, failure.Sanitize(out), "idempotent for %q", in)
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		gone []string // must not survive
		kept []string // useful context that must survive
		want string   // the exact output, when set
	}{
		{
			name: "graph 403 survives intact",
			in:   "403 Forbidden: Insufficient privileges to complete the operation.",
			want: "403 Forbidden: Insufficient privileges to complete the operation.",
		},
		{
			name: "graph SDK error keeps code, request id and date",
			in: "Code: Authorization_RequestDenied\nMessage: Insufficient privileges to complete the operation.\n" +
				"Inner error:\n    AdditionalData:\n    date: 2024-01-16T15:10:31\n    request-id: 0f8fad5b-d9cb-469f-a165-70867728950e\n",
			want: "Code: Authorization_RequestDenied Message: Insufficient privileges to complete the operation. " +
				"Inner error: AdditionalData: date: 2024-01-16T15:10:31 request-id: 0f8fad5b-d9cb-469f-a165-70867728950e",
		},
		{
			name: "authorization header with bearer JWT",
			in:   "GET https://graph.microsoft.com/v1.0/deviceManagement/deviceConfigurations failed: Authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.Zm9vYmFyYmF6cXV4",
			gone: []string{"eyJ", "Zm9vYmFyYmF6cXV4"},
			want: "GET https://graph.microsoft.com/v1.0/deviceManagement/deviceConfigurations failed: Authorization: [redacted]",
		},
		{
			name: "authorization header with basic credentials",
			in:   "proxy said 407; Proxy-Authorization: Basic dXNlcjpwYXNzd29yZA== was rejected",
			want: "proxy said 407; Proxy-Authorization: [redacted] was rejected",
		},
		{
			name: "authorization header in JSON",
			in:   `request headers {"Authorization":"Bearer abc.def.ghi jkl","Accept":"application/json"}`,
			want: `request headers {"Authorization":"[redacted]","Accept":"application/json"}`,
		},
		{
			name: "bare bearer token",
			in:   "token endpoint returned bearer 0.AXoAv4j5cvGGr0GRqy180BHbR1Hn~x.y_z and expires_in=3599",
			gone: []string{"0.AXoAv4j5cvGGr0GRqy180BHbR1Hn~x.y_z"},
			kept: []string{"expires_in=3599"},
		},
		{
			name: "bare JWT",
			in:   "id token eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0In0. was not accepted",
			want: "id token [redacted]. was not accepted",
		},
		{
			name: "JWT without the eyJ header",
			in:   "signed assertion abcdefghijklmnopqrstu.ABCDEFGHIJKLMNOPQRST.0123456789_-abcdefgh rejected",
			want: "signed assertion [redacted] rejected",
		},
		{
			name: "azure identity invalid client secret keeps the gist, drops the dump",
			in: "ClientSecretCredential: authentication failed\nPOST https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token\n" +
				strings.Repeat("-", 80) + "\nRESPONSE 401 Unauthorized\n" + strings.Repeat("-", 80) + "\n{\n  \"error\": \"invalid_client\",\n" +
				"  \"error_description\": \"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '00000000-0000-0000-0000-000000000000'.\",\n" +
				"  \"error_codes\": [7000215],\n  \"trace_id\": \"1a2b3c4d-0000-0000-0000-000000000000\"\n}\n" + strings.Repeat("-", 80) +
				"\nTo troubleshoot, visit https://aka.ms/azsdk/go/identity/troubleshoot#client-secret",
			want: "ClientSecretCredential: authentication failed POST https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token" +
				" --- RESPONSE 401 Unauthorized --- [payload omitted] --- To troubleshoot, visit https://aka.ms/azsdk/go/identity/troubleshoot#client-secret",
		},
		{
			name: "azure identity token request body",
			in:   "POST /oauth2/v2.0/token body: grant_type=client_credentials&client_id=1b2c3d4e-0000-0000-0000-000000000000&client_secret=kLm8Q~Jf7d.NBX5mIvYz_g2kLZPMqPiV5aOJ1cWT&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
			gone: []string{"kLm8Q", "NBX5mIvYz_g2kLZPMqPiV5aOJ1cWT"},
			kept: []string{"grant_type=client_credentials", "client_id=1b2c3d4e-0000-0000-0000-000000000000", "client_secret=[redacted]&scope="},
		},
		{
			name: "AADSTS prose about secrets is not a secret",
			in:   "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.",
			want: "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.",
		},
		{
			name: "camelCase and snake_case keys",
			in:   `clientSecret: s3cr3t-V4lue, api_key=AKIA1234abcd, x-api-key: k-123456, refresh_token=0.AAA-bbb, ocp-apim-subscription-key=deadbeef`,
			gone: []string{"s3cr3t-V4lue", "AKIA1234abcd", "k-123456", "0.AAA-bbb", "deadbeef"},
			want: `clientSecret: [redacted], api_key=[redacted], x-api-key: [redacted], refresh_token=[redacted], ocp-apim-subscription-key=[redacted]`,
		},
		{
			name: "JSON and escaped JSON values",
			in:   `graph body {"error":{"code":"Request_BadRequest","message":"bad","innerError":{"password":"hunter2","client_secret":"abc\"def"}}} and {\"access_token\":\"tok-123\",\"id\":7}`,
			gone: []string{"hunter2", "abc", "def", "tok-123"},
			kept: []string{`"code":"Request_BadRequest"`, `"message":"bad"`, `\"id\":7`},
		},
		{
			name: "single-quoted and spaced values",
			in:   `pwd = 'p a s s', passwd:"x y", token : abcdefgh`,
			want: `pwd = '[redacted]', passwd:"[redacted]", token : [redacted]`,
		},
		{
			name: "code is a secret only as key=value",
			in:   "callback https://app/cb?code=0.ARwA6WgJJ9X2qk&state=42 failed; error code: invalid_grant; Code: Request_ResourceNotFound",
			want: "callback https://app/cb?code=[redacted]&state=42 failed; error code: invalid_grant; Code: Request_ResourceNotFound",
		},
		{
			name: "SAS URL signature",
			in:   "PUT https://acct.blob.core.windows.net/backups/set-1.json?sv=2022-11-02&ss=b&srt=o&sp=rw&se=2030-01-01T00:00:00Z&sig=AbC%2BdEf%2FgHi%3D returned 403 AuthorizationFailure",
			want: "PUT https://acct.blob.core.windows.net/backups/set-1.json?sv=2022-11-02&ss=b&srt=o&sp=rw&se=2030-01-01T00:00:00Z&sig=[redacted] returned 403 AuthorizationFailure",
		},
		{
			name: "pgx URL connection string",
			in:   "failed to connect to `postgres://atlas:s3cr3t-P@ss@db.internal:5432/atlas?sslmode=require`: dial tcp 10.0.0.5:5432: connect: connection refused",
			want: "failed to connect to `postgres://[redacted]@db.internal:5432/atlas?sslmode=require`: dial tcp 10.0.0.5:5432: connect: connection refused",
		},
		{
			name: "pgx keyword connection string",
			in:   "failed to connect to `host=db user=atlas password=s3cr3t database=atlas`: server error (FATAL: password authentication failed for user \"atlas\" (SQLSTATE 28P01))",
			want: "failed to connect to `host=db user=atlas password=[redacted] database=atlas`: server error (FATAL: password authentication failed for user \"atlas\" (SQLSTATE 28P01))",
		},
		{
			name: "pgx constraint violation survives",
			in:   `ERROR: duplicate key value violates unique constraint "operation_runs_active_identity_unique" (SQLSTATE 23505)`,
			want: `ERROR: duplicate key value violates unique constraint "operation_runs_active_identity_unique" (SQLSTATE 23505)`,
		},
		{
			name: "ADO.NET connection string password with spaces",
			in:   "Server=tcp:atlas.database.windows.net,1433;Initial Catalog=atlas;User ID=atlas;Password=my secret pw;Encrypt=True",
			want: "Server=tcp:atlas.database.windows.net,1433;Initial Catalog=atlas;User ID=atlas;Password=[redacted];Encrypt=True",
		},
		{
			name: "storage connection string",
			in:   "DefaultEndpointsProtocol=https;AccountName=atlas;AccountKey=q9XzT0b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7s8t9u0v1w2x3y4z5A6B7C8D9E0F1G2H3I4J5K6L7M8N9O0==;EndpointSuffix=core.windows.net",
			want: "DefaultEndpointsProtocol=https;AccountName=atlas;AccountKey=[redacted];EndpointSuffix=core.windows.net",
		},
		{
			name: "any URL userinfo",
			in:   "redis://:r3d1s@cache:6379/0 and amqp://guest:guest@mq:5672/ and https://ghp_token123@github.com/org/repo.git",
			want: "redis://[redacted]@cache:6379/0 and amqp://[redacted]@mq:5672/ and https://[redacted]@github.com/org/repo.git",
		},
		{
			name: "an address in a URL path is not userinfo",
			in:   "GET https://graph.microsoft.com/v1.0/users/adele@contoso.com/memberOf returned 404",
			want: "GET https://graph.microsoft.com/v1.0/users/adele@contoso.com/memberOf returned 404",
		},
		{
			name: "cookie header",
			in:   "Cookie: atlas_session=abc123; csrf=zzz; theme=dark then redirect",
			want: "Cookie: [redacted] then redirect",
		},
		{
			name: "long hex and random base64 blobs",
			in:   "thumbprint 3F786850E387550FDAB836ED7E6DC881DE23001B, key q9XzT0b1c2d3e4f5g6h7/i8j9k0l1m2n3+o4p5q6r7s8t9u0v1w2 and kLm8Q~Jf7d.NBX5mIvYz_g2kLZPMqPiV5aOJ1cWT.",
			want: "thumbprint [redacted], key [redacted] and [redacted].",
		},
		{
			name: "GUIDs, paths, namespaces and stack frames are not blobs",
			in: "policy 0F8FAD5B-D9CB-469F-A165-70867728950E at /beta/deviceAppManagement/mobileApps/win32LobApp/x64Architecture " +
				"Microsoft.Graph.Beta.Models.ODataErrors.ODataError github.com/tenantatlas/ops/modules/operations.(*Service).runJob.func1(0xc000123456) " +
				"idx_operation_runs_workspace_id_tenant_id_created_at_2024",
			want: "policy 0F8FAD5B-D9CB-469F-A165-70867728950E at /beta/deviceAppManagement/mobileApps/win32LobApp/x64Architecture " +
				"Microsoft.Graph.Beta.Models.ODataErrors.ODataError github.com/tenantatlas/ops/modules/operations.(*Service).runJob.func1(0xc000123456) " +
				"idx_operation_runs_workspace_id_tenant_id_created_at_2024",
		},
		{
			name: "short JSON stays, long JSON is omitted",
			in:   `small {"id":"1","status":"ok"} big {"value":[` + strings.Repeat(`{"id":"abc","displayName":"Policy"},`, 8) + `{"id":"z"}],"@odata.nextLink":"https://graph/next"} tail`,
			want: `small {"id":"1","status":"ok"} big [payload omitted] tail`,
		},
		{
			name: "long JSON array and cut-off object are omitted",
			in:   `items [` + strings.Repeat(`"0f8fad5b-d9cb-469f-a165-70867728950e",`, 8) + `"x"] then {"value":[` + strings.Repeat(`{"id":1},`, 40),
			want: `items [payload omitted] then [payload omitted]`,
		},
		{
			name: "brackets in prose are not payloads",
			in:   "[warn] retry " + strings.Repeat("slowly ", 40) + "(see docs) {not json " + strings.Repeat("at all ", 40) + "}",
			kept: []string{"[warn] retry", "{not json", "(see docs)"},
		},
		{
			name: "control characters, format characters and rulers",
			in:   "  line one\r\n\tline two\x00\x1b[31m red\u200b\u202e\u2028end ======== done  ",
			want: "line one line two [31m red end === done",
		},
		{
			name: "invalid UTF-8",
			in:   "bad \xff\xfe bytes",
			want: "bad \uFFFD bytes",
		},
		{
			name: "zero-width characters cannot hide a key",
			in:   "pass\u200bword=hunter2",
			want: "password=[redacted]",
		},
		{
			name: "empty",
			in:   " \n\t ",
			want: "",
		},
		{
			name: "already sanitized text is left alone",
			in:   "Authorization: [redacted] password=[redacted] [payload omitted] postgres://[redacted]@db/x",
			want: "Authorization: [redacted] password=[redacted] [payload omitted] postgres://[redacted]@db/x",
		},
		{
			name: "json secretText with spaces",
			in:   `graph said {"secretText": "Zx8Q~abc.DEF_ghi-1", "hint": "Zx8"}`,
			want: `graph said {"secretText": "[redacted]", "hint": "Zx8"}`,
		},
		{
			name: "json credential in escaped quotes",
			in:   `body: {\"credential\":\"p4ss-W0rd\",\"type\":\"x\"}`,
			want: `body: {\"credential\":\"[redacted]\",\"type\":\"x\"}`,
		},
		{
			name: "json key, but json code stays",
			in:   `{"key" : "abc123", "code": "Authorization_RequestDenied"}`,
			want: `{"key" : "[redacted]", "code": "Authorization_RequestDenied"}`,
		},
		{
			name: "json client_secret and password without spaces",
			in:   `{"client_secret":"s3cr3t","password":"hunter2"}`,
			want: `{"client_secret":"[redacted]","password":"[redacted]"}`,
		},
		{
			name: "url-encoded equals",
			in:   "POST body grant_type=client_credentials&client_secret%3Dabc-DEF~1",
			want: "POST body grant_type=client_credentials&client_secret%3D[redacted]",
		},
		{
			name: "url-encoded colon",
			in:   "form password%3Ahunter2 rejected",
			want: "form password%3A[redacted] rejected",
		},
		{
			name: "url-encoded json",
			in:   "q=%7B%22secret%22%3A%22abc%22%2C%22id%22%3A%221%22%7D",
			want: "q=%7B%22secret%22%3A%22[redacted]%22%2C%22id%22%3A%221%22%7D",
		},
		{
			name: "url-encoded json key with spaces",
			in:   "q=%7B%22key%22%20%3A%20%22abc%22%7D",
			want: "q=%7B%22key%22%20%3A%20%22[redacted]%22%7D",
		},
		{
			name: "bare basic credentials",
			in:   "proxy login with Basic dXNlcjpwYXNzd29yZA== was refused",
			want: "proxy login with Basic [redacted] was refused",
		},
		{
			name: "bare basic, lower-case credentials that decode to user:password",
			in:   "sent basic YWxpY2U6cGFzcw",
			want: "sent basic [redacted]",
		},
		{
			name: "basic as a word stays",
			in:   "Basic authentication is disabled for this tenant; ClientSecretCredential: authentication failed",
			want: "Basic authentication is disabled for this tenant; ClientSecretCredential: authentication failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := failure.Sanitize(tt.in)
			requireSanitized(t, tt.in, out)
			if tt.want != "" || (len(tt.gone) == 0 && len(tt.kept) == 0) {
				require.Equal(t, tt.want, out)
			}
			for _, g := range tt.gone {
				require.NotContains(t, out, g)
			}
			for _, k := range tt.kept {
				require.Contains(t, out, k)
			}
		})
	}
}

func TestSanitizeCapsLength(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", failure.MaxMessageLen+50)
	out := failure.Sanitize(long)
	require.Equal(t, strings.Repeat("é", failure.MaxMessageLen)+"…", out)
	requireSanitized(t, long, out)

	exact := strings.Repeat("a", failure.MaxMessageLen)
	require.Equal(t, exact, failure.Sanitize(exact), "exactly the limit is not cut")

	// The cut never splits a marker, and never leaves a trailing space.
	mid := strings.Repeat("x", failure.MaxMessageLen-15) + " password=hunter2 " + strings.Repeat("y", 40)
	out = failure.Sanitize(mid)
	require.NotContains(t, out, "hunter2")
	require.True(t, strings.HasSuffix(out, "password=…"), out)
	requireSanitized(t, mid, out)

	spaced := strings.Repeat("x", failure.MaxMessageLen-1) + " tail"
	require.Equal(t, strings.Repeat("x", failure.MaxMessageLen-1)+"…", failure.Sanitize(spaced))

	// Huge inputs are bounded before any work, and secrets at the cut do not leak.
	huge := strings.Repeat(`{"id":"x"},`, 3000) + " Bearer abcdefghijklmnop " + strings.Repeat("z ", 10000)
	out = failure.Sanitize(huge)
	require.NotContains(t, out, "abcdefghijklmnop")
	requireSanitized(t, "huge", out)
}

func TestSanitizeFailure(t *testing.T) {
	t.Parallel()
	f := failure.New(failure.GraphThrottled, "429 Too Many Requests\nRetry-After: 30; Authorization: Bearer abcdefghijkl")
	require.Equal(t, failure.Entry{ReasonCode: failure.GraphThrottled,
		Message: "429 Too Many Requests Retry-After: 30; Authorization: [redacted]"}, f)

	f = failure.New("graph_exploded", "password=hunter2")
	require.Equal(t, failure.Entry{ReasonCode: failure.UnknownError,
		Message: "graph_exploded: password=[redacted]"}, f, "the unknown code is kept in the message")

	f = failure.New("", "boom")
	require.Equal(t, failure.Entry{ReasonCode: failure.UnknownError, Message: "boom"}, f)

	f = failure.New("token=abcdefgh", "boom")
	require.Equal(t, failure.UnknownError, f.ReasonCode)
	require.NotContains(t, f.Message, "abcdefgh", "the unknown code is sanitized too")
}

// stableCodes pins the stored values: a code is never renamed.
var stableCodes = []string{
	"provider_connection_missing", "provider_connection_invalid", "provider_consent_missing",
	"provider_permission_denied", "provider_connection_disabled", "graph_throttled",
	"graph_unavailable", "graph_timeout", "graph_request_failed", "graph_contract_missing",
	"run_context_missing", "worker_lost", "stale_queued_timeout", "dispatch_failed",
	"internal_error", "validation_failed", "item_failed", "cancelled", "scope_busy",
	"permission_denied", "unknown_error", "drift_baseline_missing",
	"operation_type_unavailable", "start_surface_not_allowed",
}

func TestReasonCodes(t *testing.T) {
	t.Parallel()
	codes := failure.Codes()
	got := make([]string, len(codes))
	labels := map[string]failure.Code{}
	for i, c := range codes {
		got[i] = string(c)
		require.True(t, c.Known(), c)
		require.Regexp(t, `^[a-z]+(_[a-z]+)*$`, string(c))
		label, next := failure.Info(c)
		require.NotEmpty(t, label, c)
		require.NotEmpty(t, next, c)
		require.True(t, strings.HasSuffix(next, "."), "next step of %s is a sentence", c)
		require.NotContains(t, labels, label, "labels are distinct")
		labels[label] = c
	}
	require.Equal(t, stableCodes, got)

	for _, c := range []failure.Code{"", "bogus", "Cancelled", "graph_throttled "} {
		require.False(t, c.Known(), c)
		label, next := failure.Info(c)
		wantLabel, wantNext := failure.Info(failure.UnknownError)
		require.Equal(t, wantLabel, label)
		require.Equal(t, wantNext, next)
	}
	codes[0] = "mutated"
	require.Equal(t, failure.ProviderConnectionMissing, failure.Codes()[0], "ReasonCodes returns a copy")
}

// TestReasonCodesAreDocumented keeps specs/002-operation-runs/reason-codes.md in step
// with the code: every code has a table row carrying its label and next step.
func TestReasonCodesAreDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../specs/002-operation-runs/reason-codes.md")
	require.NoError(t, err)
	for _, c := range failure.Codes() {
		label, next := failure.Info(c)
		row := regexp.MustCompile("(?m)^\\| `" + string(c) + "` \\|.*$").FindString(string(doc))
		require.NotEmpty(t, row, "%s has a row in reason-codes.md", c)
		require.Contains(t, row, label, c)
		require.Contains(t, row, next, c)
	}
}

// secretAlphabet is what generated secrets are made of: base64url plus "." and "~"
// (Azure client secrets use both).
func secretFrom(raw, alphabet string) string {
	var b strings.Builder
	for i := 0; i < len(raw) && b.Len() < 48; i++ {
		c := raw[i]
		if strings.IndexByte(alphabet, c) < 0 {
			continue
		}
		// Sanitize shrinks runs of 4+ punctuation; keep the secret comparable.
		if s := b.String(); len(s) >= 3 && !isAlnumByte(c) && s[len(s)-1] == c && s[len(s)-2] == c && s[len(s)-3] == c {
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isAlnumByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

const (
	b64url         = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	secretAlphabet = b64url + ".~"
)

// secretTemplate embeds a secret into a realistic message.
type secretTemplate struct {
	name     string
	alphabet string
	build    func(s string) (msg string, secrets []string)
}

var secretTemplates = []secretTemplate{
	{"authorization header", secretAlphabet, func(s string) (string, []string) {
		return "Authorization: Bearer " + s + " rejected by graph", []string{s}
	}},
	{"bearer", secretAlphabet, func(s string) (string, []string) { return "request failed: bearer " + s, []string{s} }},
	{"proxy basic", secretAlphabet, func(s string) (string, []string) { return "Proxy-Authorization: Basic " + s, []string{s} }},
	{"json", secretAlphabet, func(s string) (string, []string) {
		return `{"error":"invalid_client","client_secret":"` + s + `"}`, []string{s}
	}},
	{"escaped json", secretAlphabet, func(s string) (string, []string) {
		return `body: {\"access_token\":\"` + s + `\",\"expires_in\":3599}`, []string{s}
	}},
	{"query", secretAlphabet, func(s string) (string, []string) { return "password=" + s + "&user=admin", []string{s} }},
	{"colon", secretAlphabet, func(s string) (string, []string) { return "login failed: Password: " + s + " (attempt 2)", []string{s} }},
	{"camel", secretAlphabet, func(s string) (string, []string) { return "clientSecret=" + s + ", tenant=contoso", []string{s} }},
	{"quoted", secretAlphabet, func(s string) (string, []string) { return "apikey='" + s + "' id_token=\"" + s + "\"", []string{s} }},
	{"header", secretAlphabet, func(s string) (string, []string) { return "x-api-key: " + s, []string{s} }},
	{"ado.net", secretAlphabet, func(s string) (string, []string) {
		return "Server=db.example.com;Database=atlas;User Id=atlas;Password=" + s + ";Encrypt=true", []string{s}
	}},
	{"postgres url", secretAlphabet, func(s string) (string, []string) {
		return "postgres://atlas:" + s + "@db.internal:5432/atlas?sslmode=require", []string{s}
	}},
	{"redis url", secretAlphabet, func(s string) (string, []string) { return "redis://:" + s + "@cache:6379", []string{s} }},
	{"oauth code", secretAlphabet, func(s string) (string, []string) {
		return "https://login.example.com/cb?code=" + s + "&state=xyz", []string{s}
	}},
	{"sas", secretAlphabet, func(s string) (string, []string) {
		return "GET https://x.blob.core.windows.net/c/b?sv=2022-11-02&sig=" + s + "&se=2030", []string{s}
	}},
	{"cookie", secretAlphabet, func(s string) (string, []string) { return "Cookie: session=" + s + "; theme=dark", []string{s} }},
	{"newlines", secretAlphabet, func(s string) (string, []string) {
		return "line one\npassword=" + s + "\r\nline three", []string{s}
	}},
	{"jwt", b64url, func(s string) (string, []string) {
		return "token rejected: eyJ" + s + "." + s + "." + s, []string{s}
	}},
	{"jwt without eyJ", b64url, func(s string) (string, []string) {
		seg := s + s // every segment 16+
		return "assertion " + seg + "." + seg + "." + seg + " is invalid", []string{s}
	}},
	{"hex blob", secretAlphabet, func(s string) (string, []string) {
		sum := sha256.Sum256([]byte(s))
		h := hex.EncodeToString(sum[:])
		return "certificate thumbprint " + h + " expired", []string{h}
	}},
	{"json secretText", secretAlphabet, func(s string) (string, []string) {
		return `{"displayName":"atlas","secretText": "` + s + `"}`, []string{s}
	}},
	{"escaped json credential", secretAlphabet, func(s string) (string, []string) {
		return `body: {\"credential\" : \"` + s + `\"}`, []string{s}
	}},
	{"json key", secretAlphabet, func(s string) (string, []string) { return `{"id":"1","key":"` + s + `"}`, []string{s} }},
	{"url-encoded equals", secretAlphabet, func(s string) (string, []string) {
		return "grant_type=client_credentials&client_secret%3D" + s + "&scope=x", []string{s}
	}},
	{"url-encoded colon", secretAlphabet, func(s string) (string, []string) { return "password%3A" + s + " rejected", []string{s} }},
	{"url-encoded json", secretAlphabet, func(s string) (string, []string) {
		return "q=%7B%22secret%22%3A%22" + s + "%22%7D", []string{s}
	}},
	{"bare basic", secretAlphabet, func(s string) (string, []string) {
		b := base64.StdEncoding.EncodeToString([]byte("admin:" + s))
		return "login refused: Basic " + b + " (proxy)", []string{b}
	}},
	{"payload", secretAlphabet, func(s string) (string, []string) {
		return `response: {"value":[` + strings.Repeat(`{"id":1},`, 25) + `{"id":2}],"refresh_token":"` + s + `"} end`, []string{s}
	}},
}

// checkTemplate embeds a secret derived from raw into tmpl after prefix and checks
// that the secret does not survive Sanitize.
func checkTemplate(t *testing.T, tmpl secretTemplate, prefix, raw string) {
	t.Helper()
	secret := secretFrom(raw, tmpl.alphabet)
	if len(secret) < 8 {
		return
	}
	msg, secrets := tmpl.build(secret)
	in := prefix + " " + msg
	out := failure.Sanitize(in)
	requireSanitized(t, in, out)
	skeleton, _ := tmpl.build("\x00")
	skeleton += "\x00" + prefix + "\x00[redacted][payload omitted]…"
	for _, s := range secrets {
		if strings.Contains(skeleton, s) || strings.Contains(failure.Sanitize(skeleton), s) {
			continue // the secret is also ordinary text of the message
		}
		require.NotContains(t, out, s, "%s: %q", tmpl.name, in)
	}
}

// sanitizeSeeds are (prefix, raw secret material) pairs: the fuzz seeds, and the inputs
// TestSanitizeSecretTemplates runs through every template.
var sanitizeSeeds = [][2]string{
	{"", "hunter2-Secret.Value~42"},
	{"GET /v1.0/users failed:", "eyJhbGciOiJIUzI1NiJ9"},
	{"password=\"", "abcdefgh"},
	{"Bearer", "password"},
	{"{\"a\":[", "redactedredacted"},
	{"token:", "0.AXoAv4j5cvGGr0GRqy180BHbR1Hn~x.y_z"},
	{"Authorization:", "1234567890"},
	{strings.Repeat("x", 300), "graph.microsoft.com"},
	{"\\\"", "--------"},
	{"[redacted", "payload-omitted"},
	{"…", "…password=…"},
	// Kept from fuzzing runs: mixed-case keys and schemes, a key whose value quote opens
	// into the template, invalid UTF-8 after a key, punctuation rulers, hex-looking runs.
	{"pAss=\"", "00000000"},
	{"BeArer", "00000000"},
	{"token:\xae", "0"},
	{"0", "eyJ00000! "},
	{"^^^^^^^^^^^^^^^^^^^^^^^^^", "00000000"},
	{"\\", "00000000"},
	{"0", "0A00A0A0A00000A0000A0X00A0000000"},
	{"00000000000X00000000000000000000", "00\x10010000"},
	// The JSON-style keys, URL escapes and bare Basic credentials.
	{"%22", "S3cr3t.Value~1"},
	{"%3D", "abcdefghij"},
	{"basic", "dXNlcjpw"},
	{`"key":`, "password%3Dx"},
}

func TestSanitizeSecretTemplates(t *testing.T) {
	t.Parallel()
	for _, seed := range sanitizeSeeds {
		for _, tmpl := range secretTemplates {
			checkTemplate(t, tmpl, seed[0], seed[1])
		}
	}
}

// FuzzSanitize embeds secrets derived from the fuzz input into a realistic message
// (template chosen by pick) after an arbitrary prefix and checks that no secret
// survives; any input at all must come out single-line, capped and idempotent.
func FuzzSanitize(f *testing.F) {
	for i, seed := range sanitizeSeeds {
		f.Add(seed[0], seed[1], uint8(i))
	}
	f.Fuzz(func(t *testing.T, prefix, raw string, pick uint8) {
		for _, in := range []string{raw, prefix + raw} {
			requireSanitized(t, in, failure.Sanitize(in))
		}
		if len(prefix) > 200 {
			prefix = prefix[:200]
		}
		checkTemplate(t, secretTemplates[int(pick)%len(secretTemplates)], prefix, raw)
		// The other side: a plain message (ordinary words picked by the input) is kept as is.
		if plain := plainMessage(raw); failure.Sanitize(plain) != plain {
			t.Fatalf("Sanitize changed the plain message %q to %q", plain, failure.Sanitize(plain))
		}
	})
}

// plainWords are words of ordinary failure messages, nothing a secret looks like.
var plainWords = []string{"Graph", "request", "failed", "with", "status", "403", "Forbidden:", "the", "tenant", "policy",
	"was", "not", "found", "(retry", "later)", "device", "configuration", "throttled,", "429", "Insufficient", "privileges."}

// plainMessage is up to 20 plain words picked by the bytes of raw ("Graph" when raw is empty).
func plainMessage(raw string) string {
	words := []string{"Graph"}
	for i := 0; i < len(raw) && i < 20; i++ {
		words = append(words, plainWords[int(raw[i])%len(plainWords)])
	}
	return strings.Join(words, " ")
}

func BenchmarkSanitize(b *testing.B) {
	msg := "GET https://graph.microsoft.com/v1.0/deviceManagement/deviceConfigurations failed: Authorization: Bearer " +
		"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.Zm9vYmFyYmF6cXV4 request-id: 0f8fad5b-d9cb-469f-a165-70867728950e"
	for b.Loop() {
		failure.Sanitize(msg)
	}
}

func BenchmarkSanitizeLarge(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < 64<<10; i++ {
		sb.WriteString(`{"id":"0f8fad5b-d9cb-469f-a165-70867728950e","password":"x`)
		sb.WriteString(strings.Repeat("aB3", i%20))
		sb.WriteString(`", "note": "Bearer abcdefghijkl; eyJhbGciOi.eyJzdWIi.sig token: abc"} `)
	}
	msg := sb.String()
	for b.Loop() {
		failure.Sanitize(msg)
	}
}
