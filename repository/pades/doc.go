// Package pades verifies the PAdES signatures of the PDFs producers
// publish: the CMS signature over the PDF's byte range, the signer's
// certificate chain against a region's trust list, the certificate's
// validity at the signing time, and that nothing was appended after
// signing but what PAdES allows. A region's policy says whether a
// signature is required (`signature = required | optional`); Verify
// returns the broken rules as Problems with stable ids.
//
// # Libraries
//
// The PDF is read with github.com/pdfcpu/pdfcpu (pkg/pdfcpu), the reader
// the repository already uses for the embedded CDA (repository/pdfcda),
// at the version go.mod names: no upgrade, no other PDF parser. The CMS
// (PKCS#7) is verified with pdfcpu's pkcs7 package, a maintained fork of
// the mozilla pkcs7 code that pdfcpu's own signature validation uses: it
// reads BER and DER, verifies RSA, RSA-PSS and ECDSA signatures over the
// signed attributes, and reports a digest mismatch as its own error type
// (FIRMA-5 apart from FIRMA-7). Certificate paths are built with
// crypto/x509 against the configured pool only.
//
// Considered and not taken: pdfcpu's high-level signature validation
// (api.ValidateSignatures) reads its trust store from a global
// configuration directory, checks chains at time.Now, fetches
// revocation data online unless told not to, reports free text rather
// than rule ids, and leaves what follows a signed revision unclassified;
// github.com/digitorus/pdfsign's verify package trusts the certificates
// the signature itself carries, checks neither that the byte range
// covers the file nor what was appended after it, brings a second PDF
// parser, and is not served by the module proxy but as a single
// pseudo-version; github.com/smallstep/pkcs7 is a sound CMS library but
// would add a module for what pdfcpu's fork, already in the build,
// does.
//
// # Rules
//
//	| Rule     | A PDF breaks it when                                                                      |
//	|----------|-------------------------------------------------------------------------------------------|
//	| FIRMA-1  | the policy is required and the PDF carries no approval signature (a document timestamp     |
//	|          | alone does not sign it)                                                                   |
//	| FIRMA-2  | the file is not a PDF, cannot be read, is larger than the limit, or carries more than     |
//	|          | MaxSignatures signatures or MaxFields form fields                                         |
//	| FIRMA-3  | a signature's SubFilter is not adbe.pkcs7.detached or ETSI.CAdES.detached (a document      |
//	|          | timestamp's not ETSI.RFC3161)                                                              |
//	| FIRMA-4  | the /ByteRange is not [0 a b c] covering the whole signed revision (up to its %%EOF) but    |
//	|          | for exactly the signature's own /Contents hex string, or the signature dictionary is not   |
//	|          | the one of the revision it covers                                                          |
//	| FIRMA-5  | the signed bytes were modified after signing: their digest is not the CMS message digest  |
//	| FIRMA-6  | something was appended after the signed revision that PAdES does not allow (below)        |
//	| FIRMA-7  | the CMS is invalid: unreadable, not detached, not one signer, no signed attributes, the    |
//	|          | signer's certificate missing, the signature does not verify, a CAdES signature without a  |
//	|          | signing-certificate(-v2) attribute naming the signer's certificate, or a certificate whose |
//	|          | key usage is not for signatures                                                            |
//	| FIRMA-8  | the signer's certificate does not chain to the region's trust list                        |
//	| FIRMA-9  | the signer's certificate (or one of its chain) was not valid at the signing time: expired  |
//	|          | or not yet valid                                                                           |
//	| FIRMA-10 | the signing time (or a document timestamp's time) is later than now plus MaxClockSkew     |
//	| FIRMA-11 | the PDF carries more than one approval signature and Config.MultipleSignatures is off     |
//	| FIRMA-12 | a signature timestamp or document timestamp does not verify: its CMS, its message imprint, |
//	|          | or its TSA certificate (extended key usage timeStamping) chained to the trust list at its |
//	|          | time                                                                                       |
//	| FIRMA-13 | the configuration is invalid (Config.Validate): no PDF is judged                          |
//
// A PDF passes when Verify returns no problem. Under the optional policy
// an unsigned PDF passes, but a signed one must still verify.
//
// # Signing time
//
// The certificate is checked at the signing time, taken in this order
// from: the genTime of an RFC 3161 signature timestamp (the CMS's
// signature-time-stamp unsigned attribute) that verifies against the
// trust list; the CMS signing-time signed attribute; the signature
// dictionary's /M (where PAdES baseline signatures carry it). The last
// two are the signer's claim. Without any, the certificate is checked
// at the time of verification. Result.TimeSource says which.
//
// # What may be appended after signing
//
// PAdES (ETSI EN 319 142-1) extends a signed PDF by incremental updates
// that add validation data (the Document Security Store, for PAdES-LT)
// and document timestamps (PAdES-LTA). Verify compares, object by
// object, each signed revision (the file up to the end of its byte
// range, parsed on its own) with the whole file and accepts exactly:
//
//   - the catalog changed only in /DSS, /AcroForm and /Extensions;
//   - new objects reachable from /DSS (certificates, CRLs, OCSP
//     responses, VRI dictionaries) and changes to objects of the signed
//     revision's own DSS;
//   - new signature fields appended to the AcroForm's /Fields (which may
//     change only in /Fields and /SigFlags), each with its signature
//     dictionary and the new objects only it references; a document
//     timestamp's widget must be invisible (no appearance, or a /Rect of
//     no area), and so must a further approval signature's unless
//     Config.MultipleSignatures is on; each added signature is verified
//     in turn;
//   - pages changed only in /Annots, gaining those fields' widgets.
//
// Anything else is FIRMA-6: a changed or removed object, a new object
// nothing allowed refers to, another catalog, info dictionary or
// encryption dictionary, or bytes after the signed revision that do not
// end with %%EOF (a note appended by hand). Cross-reference and object
// streams are containers and are not compared; whitespace after the
// signed %%EOF is not an update.
//
// # Not done
//
// Revocation (CRL, OCSP) is not checked, online or from the DSS; DocMDP
// and FieldMDP permissions of certifying signatures are not evaluated
// (the rules above are stricter than DocMDP level 2); signers identified
// by subject key identifier are not found; a signing time that is only
// claimed (no timestamp) is trusted as claimed.
//
// # Bounds
//
// Verify never panics on its input: pdfcpu's failures become FIRMA-2.
// Its work is bounded by Config.MaxBytes (default 64 MiB), Config.Timeout
// (parsing stops when it expires), MaxSignatures, MaxFields,
// MaxContentsBytes and walks of limited depth; each distinct signed
// revision is parsed once.
package pades
