// A corpus of JSON Schemas shaped like the ones services send for structured output (user records, orders,
// configuration files, error payloads, discriminated events, recursive trees, calendars, invoices, surveys ...),
// each family in many variants (property names, bounds, required sets, additionalProperties), with a generator of
// valid documents and mutations that break one rule each. Which documents are valid is decided by ajv, not here.

// Deterministic PRNG (mulberry32).
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  next.chance = (p) => next() < p;
  return next;
}

const WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta", "zeta", "lambda"];
const name = (r, base) => (r.chance(0.5) ? base : `${base}_${r.pick(WORDS)}`);

// Patterns used by the corpus, each with a generator of matching strings.
export const PATTERNS = {
  "^[a-z][a-z0-9_]{2,15}$": (r) => r.pick(["bob", "alice_99", "x_y_z", "q12345"]),
  "^[A-Z]{3}-\\d{4}$": (r) => `${r.pick(["ABC", "XYZ", "QRS"])}-${String(r.int(0, 9999)).padStart(4, "0")}`,
  "^\\+?[0-9]{7,15}$": (r) => r.pick(["+4915112345678", "5551234567", "1234567"]),
  "^[A-Z]{2}$": (r) => r.pick(["DE", "US", "FR", "RU"]),
  "^v\\d+\\.\\d+\\.\\d+$": (r) => `v${r.int(0, 9)}.${r.int(0, 20)}.${r.int(0, 99)}`,
  "^#[0-9a-fA-F]{6}$": (r) => r.pick(["#00ff00", "#A1B2C3", "#ffffff"]),
  "^[a-z0-9-]{1,30}(\\.[a-z0-9-]{1,30})+$": (r) => r.pick(["example.com", "api.internal.net", "a-b.c"]),
  "error|warning": (r) => r.pick(["an error occurred", "warning: low disk", "error"]),
};
const FORMATS = {
  email: (r) => r.pick(["bob@example.com", "first.last@mail.co.uk", "x_1+tag@sub.domain.org"]),
  date: (r) => r.pick(["2024-02-29", "2025-12-31", "1999-01-01"]),
  time: (r) => r.pick(["12:30:00Z", "23:59:59+03:00", "00:00:00.5Z"]),
  "date-time": (r) => r.pick(["2025-06-01T12:30:00Z", "2024-02-29T08:00:00.250+01:00"]),
  uuid: (r) => r.pick(["123e4567-e89b-12d3-a456-426614174000", "00000000-0000-4000-8000-000000000000"]),
  ipv4: (r) => r.pick(["192.168.0.1", "10.0.0.255", "8.8.8.8"]),
};

function str(r, min = 0, max = 24) {
  const pieces = ["a", "b", "Z", " ", "7", "é", "ж", "中", "\"", "\\", "\n", "-", "/", "😀", "x", "y"];
  const n = r.int(min, Math.min(max, min + 12));
  let s = "";
  for (let i = 0; i < n; ++i) s += r.pick(pieces);
  return s;
}

// Schema families: (r, variant) -> schema. Property order in the schema is the order documents use.
const FAMILIES = {
  userProfile(r) {
    const props = {
      [name(r, "id")]: { type: "integer", minimum: 1 },
      username: { type: "string", pattern: "^[a-z][a-z0-9_]{2,15}$" },
      email: { type: "string", format: "email" },
      age: { type: "integer", minimum: r.pick([0, 13, 18]), maximum: r.pick([99, 120, 150]) },
      bio: { type: "string", maxLength: r.pick([40, 80, 200]) },
      roles: { type: "array", items: { enum: ["admin", "editor", "viewer"] }, minItems: 1, maxItems: r.int(2, 4) },
      verified: { type: "boolean" },
    };
    const keys = Object.keys(props);
    return { type: "object", properties: props, required: keys.filter((k, i) => i < 3 || r.chance(0.3)),
             ...(r.chance(0.6) ? { additionalProperties: false } : {}) };
  },
  order(r) {
    const item = {
      type: "object",
      properties: {
        sku: { type: "string", pattern: "^[A-Z]{3}-\\d{4}$" },
        quantity: { type: "integer", minimum: 1, maximum: r.pick([10, 100, 999]) },
        unitPrice: { type: "number", minimum: 0, maximum: r.pick([1000, 10000]) },
      },
      required: ["sku", "quantity", "unitPrice"],
      additionalProperties: false,
    };
    return {
      type: "object",
      properties: {
        orderId: { type: "string", format: "uuid" },
        createdAt: { type: "string", format: "date-time" },
        status: { enum: ["new", "paid", "shipped", "delivered", "cancelled"] },
        items: { type: "array", items: item, minItems: 1, maxItems: r.int(2, 5) },
        total: { type: "number", exclusiveMinimum: 0 },
        notes: { type: ["string", "null"], maxLength: 100 },
      },
      required: ["orderId", "status", "items", ...(r.chance(0.5) ? ["total"] : [])],
      additionalProperties: r.chance(0.5) ? false : { type: "string" },
    };
  },
  serverConfig(r) {
    return {
      type: "object",
      properties: {
        host: { anyOf: [{ type: "string", format: "ipv4" }, { type: "string", pattern: "^[a-z0-9-]{1,30}(\\.[a-z0-9-]{1,30})+$" }] },
        port: { type: "integer", minimum: 1, maximum: 65535 },
        tls: { type: "object", properties: { enabled: { type: "boolean" }, cert: { type: "string", maxLength: 64 } },
               required: ["enabled"], additionalProperties: false },
        logLevel: { enum: ["debug", "info", "warn", "error"] },
        features: { type: "object", additionalProperties: { type: "boolean" }, maxProperties: r.int(2, 5) },
        timeouts: { type: "object", properties: { connect: { type: "number", minimum: 0, maximum: 60 },
                                                   read: { type: "number", minimum: 0, maximum: r.pick([30, 300]) } } },
      },
      required: ["host", "port", ...(r.chance(0.5) ? ["logLevel"] : [])],
      additionalProperties: false,
    };
  },
  apiError(r) {
    return {
      type: "object",
      properties: {
        code: { type: "integer", minimum: 400, maximum: 599 },
        message: { type: "string", minLength: 1, maxLength: r.pick([60, 120]) },
        details: { type: "array", maxItems: 3, items: { type: "object", properties: { field: { type: "string", maxLength: 30 },
                   issue: { type: "string", maxLength: 60 } }, required: ["field", "issue"], additionalProperties: false } },
        requestId: { type: "string", format: "uuid" },
      },
      required: ["code", "message"],
      additionalProperties: r.chance(0.5) ? false : true,
    };
  },
  event(r) {
    const base = (type, extra, req) => ({ type: "object", properties: { type: { const: type }, ...extra }, required: ["type", ...req],
                                          additionalProperties: false });
    return {
      oneOf: [
        base("click", { x: { type: "integer", minimum: 0, maximum: 4096 }, y: { type: "integer", minimum: 0, maximum: 4096 } }, ["x", "y"]),
        base("keypress", { key: { type: "string", maxLength: r.pick([5, 10]) }, shift: { type: "boolean" } }, ["key"]),
        base("scroll", { delta: { type: "number", minimum: -1000, maximum: 1000 } }, ["delta"]),
      ],
    };
  },
  tree(r) {
    return {
      $ref: "#/$defs/node",
      $defs: {
        node: {
          type: "object",
          properties: {
            name: { type: "string", maxLength: r.pick([12, 20]) },
            value: { type: ["number", "null"] },
            children: { type: "array", items: { $ref: "#/$defs/node" }, maxItems: 3 },
          },
          required: ["name"],
          additionalProperties: false,
        },
      },
    };
  },
  geo(r) {
    const point = { type: "object", properties: { lat: { type: "number", minimum: -90, maximum: 90 },
                    lon: { type: "number", minimum: -180, maximum: 180 }, label: { type: "string", maxLength: 40 } },
                    required: ["lat", "lon"], additionalProperties: false };
    return r.chance(0.5) ? point : { type: "array", items: point, minItems: 1, maxItems: r.int(2, 4) };
  },
  calendar(r) {
    return {
      type: "object",
      properties: {
        title: { type: "string", minLength: 1, maxLength: 80 },
        date: { type: "string", format: "date" },
        start: { type: "string", format: "time" },
        attendees: { type: "array", items: { type: "string", format: "email" }, minItems: 1, maxItems: r.int(2, 4) },
        recurrence: { enum: ["daily", "weekly", "monthly", null] },
        color: { type: "string", pattern: "^#[0-9a-fA-F]{6}$" },
      },
      required: ["title", "date", ...(r.chance(0.5) ? ["attendees"] : [])],
      additionalProperties: false,
    };
  },
  csvRow(r) {
    return { type: "array", prefixItems: [{ type: "string", maxLength: 20 }, { type: "integer", minimum: 0 }, { type: "boolean" }],
             items: r.chance(0.5) ? false : { type: "number" }, minItems: r.pick([1, 2, 3]) };
  },
  composed(r) {
    return {
      allOf: [
        { type: "object", properties: { id: { type: "string", format: "uuid" }, createdAt: { type: "string", format: "date-time" } },
          required: ["id"] },
        { properties: { name: { type: "string", maxLength: 32 }, tags: { type: "array", items: { type: "string", maxLength: 12 },
          maxItems: r.int(1, 4) } }, required: ["name"] },
      ],
    };
  },
  labels(r) {
    return { type: "object", minProperties: r.int(0, 2), maxProperties: r.int(3, 5),
             additionalProperties: { type: "string", maxLength: r.pick([10, 20]) } };
  },
  invoice(r) {
    return {
      type: "object",
      definitions: { line: { type: "object", properties: { description: { type: "string", maxLength: 50 },
        amount: { type: "number", minimum: 0, exclusiveMaximum: 1e6 }, vat: { enum: [0, 7, 19, 20] } },
        required: ["description", "amount"], additionalProperties: false } },
      properties: {
        number: { type: "string", pattern: "^[A-Z]{3}-\\d{4}$" },
        currency: r.chance(0.5) ? { const: "EUR" } : { enum: ["EUR", "USD", "RUB"] },
        country: { type: "string", pattern: "^[A-Z]{2}$" },
        lines: { type: "array", items: { $ref: "#/definitions/line" }, minItems: 1, maxItems: 4 },
        paid: { type: "boolean" },
      },
      required: ["number", "currency", "lines"],
      additionalProperties: false,
    };
  },
  survey(r) {
    return {
      type: "object",
      properties: {
        respondent: { anyOf: [{ type: "string", format: "uuid" }, { type: "integer", minimum: 1 }] },
        answers: { type: "array", maxItems: r.int(3, 6), items: { anyOf: [{ type: "integer", minimum: 1, maximum: 5 },
                   { type: "string", maxLength: 100 }, { type: "null" }] } },
        version: { type: "string", pattern: "^v\\d+\\.\\d+\\.\\d+$" },
        phone: { type: "string", pattern: "^\\+?[0-9]{7,15}$", nullable: true },
      },
      required: ["respondent", "answers"],
    };
  },
  logEntry(r) {
    return {
      type: "object",
      properties: {
        level: { type: "string", enum: ["trace", "debug", "info", "warn", "error", "fatal"] },
        message: { type: "string", pattern: "error|warning" },
        at: { type: "string", format: "date-time" },
        source: { type: "object", properties: { ip: { type: "string", format: "ipv4" }, port: { type: "integer", minimum: 0, maximum: 65535 } },
                  required: ["ip"], additionalProperties: false },
        count: { type: "integer", exclusiveMinimum: 0, maximum: r.pick([1000, 1000000]) },
      },
      required: ["level", "message"],
      additionalProperties: false,
    };
  },
};

export const FAMILY_NAMES = Object.keys(FAMILIES);

// n schemas, cycling through the families with a different variant each time.
export function corpus(n = 240, seed = 1) {
  const r = rng(seed);
  const out = [];
  for (let i = 0; i < n; ++i) {
    const family = FAMILY_NAMES[i % FAMILY_NAMES.length];
    out.push({ family, schema: FAMILIES[family](r, i) });
  }
  return out;
}

function resolve(schema, root) {
  let s = schema;
  for (let hops = 0; s && s.$ref && hops < 16; ++hops) {
    s = s.$ref.slice(2).split("/").reduce((o, k) => o[k], root);
  }
  return s;
}

function mergeAll(members, root) {
  const out = { type: "object", properties: {}, required: [] };
  for (const m0 of members) {
    const m = resolve(m0, root);
    Object.assign(out.properties, m.properties ?? {});
    out.required.push(...(m.required ?? []));
  }
  return out;
}

// A valid value of `schema` (for the keywords the corpus uses).
export function sample(schema, r, root = schema, depth = 0) {
  const s = resolve(schema, root);
  if (s === true || Object.keys(s).length === 0) return r.pick([1, "x", null, true]);
  if (s.allOf) return sample(mergeAll(s.allOf, root), r, root, depth);
  if (s.anyOf) return sample(r.pick(s.anyOf), r, root, depth);
  if (s.oneOf) return sample(r.pick(s.oneOf), r, root, depth);
  if ("const" in s) return s.const;
  if (s.enum) return r.pick(s.enum);
  let type = s.type ?? (s.properties || s.additionalProperties ? "object" : s.items || s.prefixItems ? "array" : "string");
  if (Array.isArray(type)) type = r.pick(type);
  if (s.nullable && r.chance(0.3)) return null;
  switch (type) {
    case "null": return null;
    case "boolean": return r.chance(0.5);
    case "integer":
    case "number": {
      let lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000);
      let hi = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : 1000);
      if (s.exclusiveMinimum !== undefined && s.minimum === undefined) lo = s.exclusiveMinimum + 1;
      if (type === "integer") return r.int(Math.ceil(lo), Math.floor(hi));
      return Math.round((lo + (hi - lo) * r()) * 1000) / 1000;
    }
    case "string":
      if (s.format) return FORMATS[s.format](r);
      if (s.pattern) return PATTERNS[s.pattern](r);
      return str(r, s.minLength ?? 0, s.maxLength ?? 24);
    case "array": {
      const prefix = s.prefixItems ?? [];
      const min = s.minItems ?? 0, max = s.maxItems ?? min + 3;
      const n = s.items === false ? prefix.length : r.int(Math.max(min, depth > 2 ? 0 : min), depth > 2 ? min : Math.min(max, min + 3));
      const out = [];
      for (let i = 0; i < n && (i < prefix.length || s.items !== false); ++i)
        out.push(sample(i < prefix.length ? prefix[i] : s.items ?? {}, r, root, depth + 1));
      return out;
    }
    default: {
      const out = {};
      const req = new Set(s.required ?? []);
      for (const [k, v] of Object.entries(s.properties ?? {}))
        if (req.has(k) || (depth < 3 && r.chance(0.5))) out[k] = sample(v, r, root, depth + 1);
      const extra = s.additionalProperties;
      let count = Object.keys(out).length;
      const want = Math.max(s.minProperties ?? 0, extra !== false && extra !== undefined && r.chance(0.5) ? count + 1 : 0);
      for (let i = 0; count < want && count < (s.maxProperties ?? 99); ++i, ++count)
        out[`extra_${i}`] = sample(extra === true || extra === undefined ? {} : extra, r, root, depth + 1);
      return out;
    }
  }
}

// Values that break one rule each: (kind, value). ajv decides which really are invalid.
export function mutations(schema, value, r) {
  const out = [];
  const root = schema;
  const visit = (s0, v, set) => {
    const s = resolve(s0, root);
    if (!s || typeof s !== "object") return;
    if (s.enum) out.push(["enum violation", set("not-in-enum")]);
    if (s.maxLength !== undefined && typeof v === "string") out.push(["string too long", set("w".repeat(s.maxLength + 1))]);
    if (s.pattern && typeof v === "string") out.push(["pattern mismatch", set("!!" + v)]);
    if (s.format && typeof v === "string") out.push(["format mismatch", set(v + "?")]);
    if (s.maximum !== undefined && typeof v === "number") out.push(["number out of range", set(s.maximum + 1)]);
    if (s.minimum !== undefined && typeof v === "number") out.push(["number out of range", set(s.minimum - 1)]);
    if (s.type === "integer" && typeof v === "number") out.push(["wrong type", set(v + 0.5)]);
    if (typeof v === "number") out.push(["wrong type", set(String(v))]);
    if (typeof v === "string") out.push(["wrong type", set(v.length)]);
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const props = s.properties ?? (s.allOf ? mergeAll(s.allOf, root).properties : {});
      for (const k of (s.required ?? [])) if (k in v) out.push(["missing required field", set(Object.fromEntries(Object.entries(v).filter(([x]) => x !== k)))]);
      if (s.additionalProperties === false) out.push(["extra property", set({ ...v, unexpected: 1 })]);
      for (const [k, sub] of Object.entries(props ?? {}))
        if (k in v) visit(sub, v[k], (nv) => set({ ...v, [k]: nv }));
    }
    if (Array.isArray(v)) {
      if (s.maxItems !== undefined) out.push(["too many items", set([...v, ...Array(s.maxItems + 1 - v.length).fill(v[0] ?? 1)])]);
      v.forEach((item, i) => visit(s.prefixItems?.[i] ?? s.items ?? {}, item, (nv) => set(v.map((x, j) => (j === i ? nv : x)))));
    }
  };
  visit(schema, value, (nv) => nv);
  return out;
}

// The text forms a client may write: compact, indented by two, Python's json.dumps default separators.
export function serializations(value) {
  const python = (v) => {
    if (Array.isArray(v)) return `[${v.map(python).join(", ")}]`;
    if (v && typeof v === "object") return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${python(x)}`).join(", ")}}`;
    return JSON.stringify(v);
  };
  return [JSON.stringify(value), JSON.stringify(value, null, 2), python(value)];
}
