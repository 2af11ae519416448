// The submit form, built from the server's OpenAPI document: the submit body is a
// `oneOf` with a discriminator mapping each job type to its schema, whose `input`
// property is that type's input schema. Every field is sent as typed (the server
// validates; its problem `details` are shown next to the field they name).

import { ApiError, json } from "./api.js";

const $ = (id) => document.getElementById(id);

let types = new Map(); // type name -> {description, input schema, priority schema}

export async function loadTypes() {
  const doc = await json("/openapi.json", { auth: null });
  const schemas = doc.components.schemas;
  const resolve = (s) =>
    s && s.$ref ? schemas[s.$ref.split("/").pop()] : s;
  const submit = resolve(
    doc.paths["/api/jobs"].post.requestBody.content["application/json"].schema,
  );
  types = new Map();
  const mapping = submit.discriminator ? submit.discriminator.mapping : {};
  for (const [name, ref] of Object.entries(mapping)) {
    const schema = resolve({ $ref: ref });
    const props = schema.properties || {};
    types.set(name, {
      description: schema.description || "",
      input: resolve(props.input) || { type: "object" },
      priority: resolve(props.priority),
    });
  }
  const select = $("job-type");
  select.replaceChildren(
    ...[...types.keys()].map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      return option;
    }),
  );
  showFields();
}

// ``seconds``-style reST markup in the schema descriptions, shown as plain text.
const plain = (text) => String(text || "").replace(/``/g, "");

function hint(schema) {
  const parts = [];
  if (schema.enum) parts.push(schema.enum.join(" / "));
  else if (schema.type === "integer" || schema.type === "number") {
    const range = [schema.minimum, schema.maximum].every((v) => v !== undefined);
    if (range) parts.push(`${schema.type} ${schema.minimum}..${schema.maximum}`);
    else parts.push(schema.type);
  } else if (schema.type === "string") parts.push("text");
  if (schema.default !== undefined) parts.push(`default ${JSON.stringify(schema.default)}`);
  return parts.join(", ");
}

function field(path, label, schema, required) {
  const id = `f-${path.replace(/\W/g, "-")}`;
  const wrap = document.createElement("div");
  wrap.className = "field";
  wrap.dataset.path = path;
  const lab = document.createElement("label");
  lab.htmlFor = id;
  lab.textContent = required ? `${label} (required)` : label;
  let control;
  if (schema.enum) {
    control = document.createElement("select");
    if (!required) control.append(new Option("(default)", ""));
    for (const value of schema.enum) control.append(new Option(String(value), String(value)));
    if (required && schema.default !== undefined) control.value = String(schema.default);
  } else if (schema.type === "boolean") {
    wrap.classList.add("check");
    control = document.createElement("input");
    control.type = "checkbox";
    control.checked = schema.default === true;
  } else if (schema.type === "object") {
    control = document.createElement("textarea");
    control.rows = 4;
    control.value = "{}";
    control.spellcheck = false;
  } else {
    control = document.createElement("input");
    control.type = "text";
    if (schema.type === "integer") control.inputMode = "numeric";
    if (schema.type === "number") control.inputMode = "decimal";
    if (schema.maxLength) control.maxLength = schema.maxLength;
    control.autocomplete = "off";
  }
  control.id = id;
  control.name = path;
  control.dataset.kind = schema.type || "string";
  const help = document.createElement("p");
  help.className = "muted small";
  help.id = `${id}-help`;
  help.textContent =
    schema.type === "object" ? "a JSON object" : hint(schema);
  const error = document.createElement("p");
  error.className = "field-error";
  error.id = `${id}-error`;
  control.setAttribute("aria-describedby", `${id}-help ${id}-error`);
  if (schema.type === "boolean") wrap.append(control, lab, help, error);
  else wrap.append(lab, control, help, error);
  return wrap;
}

export function showFields() {
  const type = types.get($("job-type").value);
  const box = $("fields");
  if (!type) {
    box.replaceChildren();
    return;
  }
  $("type-help").textContent = plain(type.description);
  const required = new Set(type.input.required || []);
  const props = type.input.properties || {};
  const rows = Object.entries(props).map(([name, schema]) =>
    field(`input.${name}`, name, schema, required.has(name)),
  );
  if (Object.keys(props).length === 0 && type.input.type === "object") {
    rows.push(field("input", "input", { type: "object" }, true));
  }
  if (type.priority) rows.push(field("priority", "priority", type.priority, false));
  box.replaceChildren(...rows);
  clearErrors();
}

function clearErrors() {
  for (const el of document.querySelectorAll("#submit-form .field-error")) el.textContent = "";
  for (const el of document.querySelectorAll("#submit-form [aria-invalid]")) {
    el.removeAttribute("aria-invalid");
  }
}

function showError(path, message) {
  const wrap = [...document.querySelectorAll("#fields .field")].find(
    (w) => w.dataset.path === path,
  );
  if (!wrap) return false;
  const control = wrap.querySelector("input, select, textarea");
  control.setAttribute("aria-invalid", "true");
  const error = wrap.querySelector(".field-error");
  error.textContent = error.textContent ? `${error.textContent}; ${message}` : message;
  return true;
}

// Typed values: numbers as numbers when they parse (else the text, which the server
// refuses with a message for that field), empty optional fields left out.
function valueOf(control) {
  const kind = control.dataset.kind;
  if (kind === "boolean") return control.checked;
  const text = control.value.trim();
  if (text === "") return undefined;
  if (kind === "integer" || kind === "number") {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  if (kind === "object") return JSON.parse(text);
  return control.value;
}

export function readForm() {
  clearErrors();
  const body = { type: $("job-type").value, input: {} };
  let ok = true;
  for (const wrap of document.querySelectorAll("#fields .field")) {
    const control = wrap.querySelector("input, select, textarea");
    let value;
    try {
      value = valueOf(control);
    } catch {
      showError(wrap.dataset.path, "not valid JSON");
      ok = false;
      continue;
    }
    if (value === undefined) continue;
    const [head, name] = wrap.dataset.path.split(".");
    if (head === "input" && name !== undefined) body.input[name] = value;
    else body[head] = value;
  }
  return ok ? body : null;
}

// A refused submit: each problem next to its field, the rest under the form.
export function showProblem(err) {
  const rest = [];
  if (err instanceof ApiError) {
    for (const d of err.details) {
      const loc = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body") : [];
      const msg = typeof d.msg === "string" ? d.msg : String(d.message || "invalid");
      if (!showError(loc.join("."), msg)) rest.push(loc.length ? `${loc.join(".")}: ${msg}` : msg);
    }
  }
  $("submit-error").textContent = rest.length
    ? `Not submitted: ${err.message} (${rest.join("; ")})`
    : `Not submitted: ${err.message}`;
  const first = document.querySelector("#fields [aria-invalid]");
  if (first) first.focus();
}
