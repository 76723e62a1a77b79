package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
)

// upload is the file part of a request: in memory while small, spilled to
// a temporary file beyond that, hashed as it arrives.
type upload struct {
	mem  []byte
	f    *os.File
	Size int64
	SHA  string // SHA-256, hex, of the bytes received
}

// reader returns the content from its start.
func (u *upload) reader() (io.ReadSeeker, error) {
	if u.f == nil {
		return bytes.NewReader(u.mem), nil
	}
	if _, err := u.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return u.f, nil
}

// Close removes the temporary file, if any.
func (u *upload) Close() {
	if u != nil && u.f != nil {
		name := u.f.Name()
		u.f.Close()
		os.Remove(name)
	}
}

// Errors of reading a multipart request; each maps to a status.
var (
	errMediaType  = errors.New("the request must be multipart/form-data")
	errMultipart  = errors.New("malformed multipart body")
	errUploadSize = errors.New("the file is larger than the limit")
)

type multipartLimits struct {
	MaxFile  int64  // bytes of the file part
	InMemory int64  // a file up to this size stays in memory
	TempDir  string // where larger ones go
}

// readMultipart reads the gateway's form: exactly one requestBody part
// (JSON) and one file part. Any other part is refused, as the
// specification's additionalProperties: false says.
func readMultipart(r *http.Request, lim multipartLimits) (body []byte, file *upload, err error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, nil, errMediaType
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	defer func() {
		if err != nil {
			file.Close()
			file = nil
		}
	}()
	for {
		p, perr := mr.NextPart()
		if errors.Is(perr, io.EOF) {
			break
		}
		if perr != nil {
			var mbe *http.MaxBytesError
			if errors.As(perr, &mbe) {
				return nil, file, errUploadSize
			}
			return nil, file, fmt.Errorf("%w: %v", errMultipart, perr)
		}
		switch p.FormName() {
		case "requestBody":
			if body != nil {
				return nil, file, fmt.Errorf("%w: two requestBody parts", errMultipart)
			}
			body, err = io.ReadAll(io.LimitReader(p, maxRequestBody+1))
			if err != nil {
				return nil, file, readErr(err)
			}
			if body == nil {
				body = []byte{}
			}
		case "file":
			if file != nil {
				return nil, file, fmt.Errorf("%w: two file parts", errMultipart)
			}
			file, err = spool(p, lim)
			if err != nil {
				return nil, file, err
			}
		default:
			return nil, file, fmt.Errorf("%w: unexpected part %q (want requestBody and file)", errMultipart, p.FormName())
		}
	}
	switch {
	case body == nil:
		return nil, file, fmt.Errorf("%w: the requestBody part is missing", errMultipart)
	case file == nil:
		return nil, file, fmt.Errorf("%w: the file part is missing", errMultipart)
	case file.Size == 0:
		return nil, file, fmt.Errorf("%w: the file part is empty", errMultipart)
	}
	return body, file, nil
}

func readErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errUploadSize
	}
	return fmt.Errorf("%w: %v", errMultipart, err)
}

func spool(r io.Reader, lim multipartLimits) (*upload, error) {
	u := &upload{}
	h := sha256.New()
	var buf bytes.Buffer
	n, err := io.Copy(io.MultiWriter(h, &buf), io.LimitReader(r, lim.InMemory+1))
	u.Size = n
	if err != nil {
		return u, readErr(err)
	}
	if n <= lim.InMemory {
		if n > lim.MaxFile {
			return u, errUploadSize
		}
		u.mem = buf.Bytes()
		u.SHA = hex.EncodeToString(h.Sum(nil))
		return u, nil
	}
	f, err := os.CreateTemp(lim.TempDir, "upload-*")
	if err != nil {
		return u, err
	}
	u.f = f
	if _, err := f.Write(buf.Bytes()); err != nil {
		return u, err
	}
	m, err := io.Copy(io.MultiWriter(h, f), io.LimitReader(r, lim.MaxFile-n+1))
	u.Size += m
	if err != nil {
		return u, readErr(err)
	}
	if u.Size > lim.MaxFile {
		return u, errUploadSize
	}
	u.SHA = hex.EncodeToString(h.Sum(nil))
	return u, nil
}
