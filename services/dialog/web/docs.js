// The API reference page (docs.html): fetches /v1/openapi.json (the server's openapi.yaml as JSON)
// and renders operations (parameters, bodies, responses per status, SSE events, scopes) and
// schemas (properties, constraints). Every text from the document goes in as textContent.
"use strict";

const METHODS = ["get", "put", "post", "delete", "patch"];

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

function refName(ref) { return ref.split("/").pop(); }
function anchorFor(name) { return "schema-" + name; }

/// A schema as one line: a link for $ref, else its type and constraints.
function schemaSummary(s) {
  if (!s) return document.createTextNode("");
  if (s.$ref) return el("a", { href: "#" + anchorFor(refName(s.$ref)) }, refName(s.$ref));
  const span = el("span");
  if (s.type === "array") {
    span.append("array of ", schemaSummary(s.items));
  } else if (s.type === "object" && s.additionalProperties) {
    span.append("map of ", schemaSummary(s.additionalProperties));
  } else {
    span.append(s.type || "any");
  }
  const c = [];
  if (s.enum) c.push("one of " + s.enum.join(", "));
  for (const k of ["minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "minProperties", "maxProperties", "pattern", "format", "default"]) {
    if (s[k] !== undefined) c.push(k + " " + JSON.stringify(s[k]));
  }
  if (c.length) span.append(el("span", { class: "muted" }, " (" + c.join("; ") + ")"));
  return span;
}

function resolve(doc, obj) {
  if (obj && obj.$ref && obj.$ref.startsWith("#/components/")) {
    const [, , kind, name] = obj.$ref.split("/");
    return (doc.components[kind] || {})[name] || obj;
  }
  return obj;
}

function renderOperation(doc, path, method, op, pathParams) {
  const id = "op-" + method + "-" + path.replace(/[^A-Za-z0-9]+/g, "-");
  const sec = el("section", { class: "op", id });
  const head = el("div", {}, el("span", { class: "method " + method }, method.toUpperCase()), " ", el("span", { class: "path" }, path));
  if (op["x-scope"]) head.append(el("span", { class: "tag" }, "scope: " + op["x-scope"]));
  if (Array.isArray(op.security) && op.security.length === 0) head.append(el("span", { class: "tag" }, "no key"));
  sec.append(head);
  if (op.summary) sec.append(el("p", {}, op.summary));
  if (op.description) sec.append(el("p", { class: "desc" }, op.description));

  const params = [...(pathParams || []), ...(op.parameters || [])].map((p) => resolve(doc, p));
  if (params.length) {
    const t = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "schema"), el("th", {}, "description")));
    for (const p of params) {
      t.append(el("tr", {}, el("td", {}, el("code", {}, p.name), p.required ? " *" : ""), el("td", {}, p.in), el("td", {}, schemaSummary(p.schema)), el("td", {}, p.description || "")));
    }
    sec.append(el("h4", {}, "Parameters"), t);
  }
  if (op.requestBody) {
    const t = el("table", {}, el("tr", {}, el("th", {}, "content type"), el("th", {}, "schema")));
    for (const [type, media] of Object.entries(op.requestBody.content || {})) {
      t.append(el("tr", {}, el("td", {}, el("code", {}, type)), el("td", {}, schemaSummary(media.schema))));
    }
    sec.append(el("h4", {}, "Request body" + (op.requestBody.required ? " (required)" : "")), t);
  }
  const t = el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "body"), el("th", {}, "when")));
  for (const [status, raw] of Object.entries(op.responses || {})) {
    const r = resolve(doc, raw);
    const bodies = el("td");
    for (const [type, media] of Object.entries(r.content || {})) {
      bodies.append(el("code", {}, type), " ", schemaSummary(media.schema));
      const events = media["x-sse-events"];
      if (events) {
        const list = el("ul");
        for (const [name, schema] of Object.entries(events)) list.append(el("li", {}, "event ", el("code", {}, name), ": ", schemaSummary(schema)));
        bodies.append(list);
      }
      bodies.append(el("br"));
    }
    t.append(el("tr", {}, el("td", {}, el("code", {}, status)), bodies, el("td", { class: "desc" }, r.description || "")));
  }
  sec.append(el("h4", {}, "Responses"), t);
  return sec;
}

function renderSchema(name, s) {
  const sec = el("section", { class: "schema", id: anchorFor(name) }, el("h3", {}, name));
  if (s.description) sec.append(el("p", { class: "desc" }, s.description));
  const required = new Set(s.required || []);
  if (s.properties) {
    const t = el("table", {}, el("tr", {}, el("th", {}, "field"), el("th", {}, "schema"), el("th", {}, "description")));
    for (const [field, p] of Object.entries(s.properties)) {
      t.append(el("tr", {}, el("td", {}, el("code", {}, field), required.has(field) ? " *" : ""), el("td", {}, schemaSummary(p)), el("td", { class: "desc" }, p.description || "")));
    }
    sec.append(t);
  } else {
    sec.append(el("p", {}, schemaSummary(s)));
  }
  return sec;
}

async function main() {
  let doc;
  try {
    const r = await fetch("/v1/openapi.json");
    if (!r.ok) throw new Error("GET /v1/openapi.json: HTTP " + r.status);
    doc = await r.json();
  } catch (e) {
    const err = document.getElementById("error");
    err.textContent = "Could not load the API document: " + e.message;
    err.hidden = false;
    return;
  }
  document.getElementById("title").textContent = doc.info.title;
  document.getElementById("version").textContent = "version " + doc.info.version;
  document.getElementById("intro").textContent = doc.info.description || "";
  const nav = document.getElementById("nav");
  const ops = document.getElementById("ops");
  nav.append(el("h3", {}, "Operations"));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      if (!item[method]) continue;
      const sec = renderOperation(doc, path, method, item[method], item.parameters);
      ops.append(sec);
      nav.append(el("a", { href: "#" + sec.id }, method.toUpperCase() + " " + path));
    }
  }
  const schemas = document.getElementById("schemas");
  const names = Object.keys((doc.components || {}).schemas || {});
  if (names.length) {
    document.getElementById("schemas-title").hidden = false;
    nav.append(el("h3", {}, "Schemas"));
  }
  for (const name of names) {
    schemas.append(renderSchema(name, doc.components.schemas[name]));
    nav.append(el("a", { href: "#" + anchorFor(name) }, name));
  }
  document.body.dataset.state = "ready";
  // The sections exist only now: follow a link such as /docs#op-post--v1-sessions-id-turns.
  if (location.hash) {
    const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView();
  }
}

main();
