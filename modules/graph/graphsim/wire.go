package graphsim

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// graphError writes a Graph error body {"error":{"code","message","innerError":{...}}}.
func graphError(w http.ResponseWriter, status int, code, message string, inner map[string]any) {
	in := map[string]any{
		"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
		"request-id":        "00000000-0000-0000-0000-000000000001",
		"client-request-id": "00000000-0000-0000-0000-000000000002",
	}
	for k, v := range inner {
		in[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"code": code, "message": message, "innerError": in},
	})
}

// leakInner is the innerError of a LeakToken fault: it echoes what a client must never
// pass on.
func (s *Server) leakInner(r *http.Request, f Faults) map[string]any {
	if !f.LeakToken {
		return nil
	}
	return map[string]any{
		"authorization": r.Header.Get("Authorization"),
		"clientSecret":  s.cfg.ClientSecret,
	}
}

// leakText is appended to error messages under a LeakToken fault.
func (s *Server) leakText(r *http.Request, f Faults) string {
	if !f.LeakToken {
		return ""
	}
	return " (token " + bearer(r) + ", secret " + s.cfg.ClientSecret + ")"
}

// serveGraph answers one Graph API request: auth, faults, then the registry's routes.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	token := bearer(r)
	c, ok := s.verify(token)
	tenant := c.Tenant
	f := s.snapshotFaults(tenant)
	sleep(r, f.Latency)
	if !ok {
		msg := "Access token is empty."
		if token != "" {
			msg = "Access token validation failure. Invalid audience, signature or expiry."
		}
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", msg+s.leakText(r, f), s.leakInner(r, f))
		return
	}
	if f.ConsentMissing {
		inner := map[string]any{"code": "consent_required"}
		for k, v := range s.leakInner(r, f) {
			inner[k] = v
		}
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken",
			"AADSTS65001: The user or administrator has not consented to use the application with ID '"+c.Client+"'."+s.leakText(r, f), inner)
		return
	}
	if status, retryAfter := s.takeCountedFault(tenant, r.URL.Path+"?"+r.URL.RawQuery); status != 0 {
		if status == http.StatusTooManyRequests {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			graphError(w, status, "TooManyRequests", "Too many requests. Please retry after the time in Retry-After."+s.leakText(r, f), s.leakInner(r, f))
			return
		}
		graphError(w, status, "ServiceUnavailable", "The service is temporarily unavailable."+s.leakText(r, f), s.leakInner(r, f))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodPatch {
		graphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "The simulator serves GET, POST and PATCH requests only.", nil)
		return
	}
	rt, ok := resolve(r.URL.Path)
	if !ok {
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource not found for the segment.", nil)
		return
	}
	if slices.Contains(f.PermissionDenied, rt.contract.Type) {
		graphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."+s.leakText(r, f), s.leakInner(r, f))
		return
	}
	if r.Method != http.MethodGet {
		s.serveWrite(w, r, tenant, rt, f)
		return
	}
	q := r.URL.Query()
	var sel []string
	if v := q.Get("$select"); v != "" {
		sel = strings.Split(v, ",")
	}
	if rt.id != "" {
		obj, found := s.object(tenant, rt.contract.Type, rt.id)
		if !found {
			graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource does not exist or one of its queried reference-property objects are not present.", nil)
			return
		}
		out := project(obj, sel)
		out["@odata.context"] = baseURL(r) + "/" + rt.contract.APIVersion + "/$metadata#" + metadataName(rt.contract.Path) + "/$entity"
		writeJSON(w, out)
		return
	}
	s.serveList(w, r, tenant, rt, q, sel)
}

// serveWrite answers a POST to a writable collection (create: 201 with the object, a
// new id) or a PATCH of one of its objects (update: the fields merged in, 204), after
// the WriteThrottle and WriteFail faults.
func (s *Server) serveWrite(w http.ResponseWriter, r *http.Request, tenant string, rt route, f Faults) {
	if !rt.contract.Writable || (r.Method == http.MethodPost) != (rt.id == "") {
		graphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "The resource does not accept this method.", nil)
		return
	}
	var body map[string]any
	var in io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		// The SDK's compression middleware gzips request bodies, as Graph accepts.
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "The request body is not gzip.", nil)
			return
		}
		defer func() { _ = zr.Close() }()
		in = zr
	}
	dec := json.NewDecoder(io.LimitReader(in, 1<<20))
	if err := dec.Decode(&body); err != nil || body == nil {
		graphError(w, http.StatusBadRequest, "Request_BadRequest", "The request body is not a JSON object.", nil)
		return
	}
	key := rt.id
	if r.Method == http.MethodPost {
		key, _ = body["displayName"].(string)
		if key == "" {
			key, _ = body["name"].(string)
		}
	}
	if s.takeWriteThrottle(tenant, key) {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		graphError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests. Please retry after the time in Retry-After.", nil)
		return
	}
	if slices.Contains(f.WriteFail, key) {
		graphError(w, http.StatusBadRequest, "Request_BadRequest", "The policy could not be written: a setting value is invalid.", nil)
		return
	}
	delete(body, "@odata.context")
	if r.Method == http.MethodPost {
		delete(body, "id")
		body["id"] = newUUID(nil)
		body["lastModifiedDateTime"] = time.Now().UTC().Format(time.RFC3339)
		s.SetObject(tenant, rt.contract.Type, body)
		out, _ := s.object(tenant, rt.contract.Type, body["id"].(string))
		out["@odata.context"] = baseURL(r) + "/" + rt.contract.APIVersion + "/$metadata#" + metadataName(rt.contract.Path) + "/$entity"
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(out)
		return
	}
	cur, found := s.object(tenant, rt.contract.Type, rt.id)
	if !found {
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource does not exist or one of its queried reference-property objects are not present.", nil)
		return
	}
	for k, v := range body {
		if k != "id" {
			cur[k] = v
		}
	}
	cur["lastModifiedDateTime"] = time.Now().UTC().Format(time.RFC3339)
	s.SetObject(tenant, rt.contract.Type, cur)
	w.WriteHeader(http.StatusNoContent)
}

// pageToken is what an opaque $skiptoken carries.
type pageToken struct {
	Offset int `json:"o"`
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, tenant string, rt route, q url.Values, sel []string) {
	top := s.cfg.PageSize
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid value for $top.", nil)
			return
		}
		if n > 0 {
			top = min(n, s.cfg.PageSize)
		}
	}
	offset := 0
	if v := q.Get("$skiptoken"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		var pt pageToken
		if err != nil || json.Unmarshal(raw, &pt) != nil || pt.Offset < 0 {
			graphError(w, http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.", nil)
			return
		}
		offset = pt.Offset
	}
	objs, total := s.page(tenant, rt.contract.Type, offset, top)
	value := make([]map[string]any, len(objs))
	for i, o := range objs {
		value[i] = project(o, sel)
	}
	ctxName := metadataName(rt.contract.Path)
	if len(sel) > 0 {
		ctxName += "(" + strings.Join(sel, ",") + ")"
	}
	body := map[string]any{
		"@odata.context": baseURL(r) + "/" + rt.contract.APIVersion + "/$metadata#" + ctxName,
		"value":          value,
	}
	if next := offset + len(objs); next < total {
		// Graph writes the $ of its query options literally.
		var nq []string
		if len(sel) > 0 {
			nq = append(nq, "$select="+url.QueryEscape(strings.Join(sel, ",")))
		}
		nq = append(nq, "$top="+strconv.Itoa(top))
		tok, _ := json.Marshal(pageToken{Offset: next})
		nq = append(nq, "$skiptoken="+base64.RawURLEncoding.EncodeToString(tok))
		body["@odata.nextLink"] = baseURL(r) + r.URL.Path + "?" + strings.Join(nq, "&")
	}
	writeJSON(w, body)
}

// project keeps the selected fields of obj (all when sel is empty); an "@odata.type"
// is always kept, as Graph does for derived types.
func project(obj map[string]any, sel []string) map[string]any {
	if len(sel) == 0 {
		return obj
	}
	out := make(map[string]any, len(sel)+1)
	for _, k := range sel {
		if v, ok := obj[k]; ok {
			out[k] = v
		}
	}
	if t, ok := obj["@odata.type"]; ok {
		out["@odata.type"] = t
	}
	return out
}

// metadataName is the entity set name in @odata.context: the path's segments joined
// with "/", e.g. "deviceManagement/deviceConfigurations".
func metadataName(path string) string {
	return strings.TrimPrefix(path, "/")
}

// baseURL is the scheme and host the client called, for absolute nextLinks.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
