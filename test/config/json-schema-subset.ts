// A validator for the part of JSON Schema (2020-12) that z.toJSONSchema emits for rigd's config schemas,
// so that tests can check the committed schemas against real files without another dependency. A keyword
// it does not know fails loudly: a schema using more than this subset cannot pass silently.

type Schema = { [keyword: string]: unknown };

const ANNOTATIONS = new Set(["$schema", "title", "description", "default"]);

/** The errors of `value` against `schema`, as "path: what is wrong"; empty when it is valid. */
export function jsonSchemaErrors(schema: Schema, value: unknown, path = "$"): string[] {
  const errors: string[] = [];
  const fail = (what: string) => errors.push(`${path}: ${what}`);
  for (const [keyword, rule] of Object.entries(schema)) {
    switch (keyword) {
      case "type":
        if (!hasType(value, rule as string)) fail(`not of type ${String(rule)}`);
        break;
      case "enum":
        if (!(rule as unknown[]).some((allowed) => allowed === value)) fail(`not one of ${JSON.stringify(rule)}`);
        break;
      case "const":
        if (value !== rule) fail(`not ${JSON.stringify(rule)}`);
        break;
      case "minimum":
        if (typeof value === "number" && value < (rule as number)) fail(`below ${String(rule)}`);
        break;
      case "maximum":
        if (typeof value === "number" && value > (rule as number)) fail(`above ${String(rule)}`);
        break;
      case "exclusiveMinimum":
        if (typeof value === "number" && value <= (rule as number)) fail(`not above ${String(rule)}`);
        break;
      case "exclusiveMaximum":
        if (typeof value === "number" && value >= (rule as number)) fail(`not below ${String(rule)}`);
        break;
      case "minLength":
        if (typeof value === "string" && [...value].length < (rule as number)) fail(`shorter than ${String(rule)}`);
        break;
      case "maxLength":
        if (typeof value === "string" && [...value].length > (rule as number)) fail(`longer than ${String(rule)}`);
        break;
      case "pattern":
        if (typeof value === "string" && !new RegExp(rule as string, "u").test(value)) fail(`does not match ${String(rule)}`);
        break;
      case "minItems":
        if (Array.isArray(value) && value.length < (rule as number)) fail(`fewer than ${String(rule)} items`);
        break;
      case "maxItems":
        if (Array.isArray(value) && value.length > (rule as number)) fail(`more than ${String(rule)} items`);
        break;
      case "prefixItems":
        if (Array.isArray(value)) {
          (rule as Schema[]).forEach((item, i) => {
            if (i < value.length) errors.push(...jsonSchemaErrors(item, value[i], `${path}[${i}]`));
          });
        }
        break;
      case "items":
        if (Array.isArray(value)) {
          const from = Array.isArray(schema.prefixItems) ? schema.prefixItems.length : 0;
          value.slice(from).forEach((item, i) => {
            if (rule === false) fail(`unexpected item ${from + i}`);
            else errors.push(...jsonSchemaErrors(rule as Schema, item, `${path}[${from + i}]`));
          });
        }
        break;
      case "properties":
        if (isObject(value)) {
          for (const [key, property] of Object.entries(rule as Record<string, Schema>)) {
            if (key in value) errors.push(...jsonSchemaErrors(property, value[key], `${path}.${key}`));
          }
        }
        break;
      case "required":
        if (isObject(value)) for (const key of rule as string[]) if (!(key in value)) fail(`missing ${key}`);
        break;
      case "additionalProperties":
        if (isObject(value)) {
          const known = Object.keys((schema.properties ?? {}) as object);
          for (const key of Object.keys(value).filter((k) => !known.includes(k))) {
            if (rule === false) fail(`unexpected key ${key}`);
            else errors.push(...jsonSchemaErrors(rule as Schema, value[key], `${path}.${key}`));
          }
        }
        break;
      case "oneOf": {
        const matching = (rule as Schema[]).filter((option) => jsonSchemaErrors(option, value, path).length === 0);
        if (matching.length !== 1) fail(`matches ${matching.length} of the oneOf options, not 1`);
        break;
      }
      case "anyOf":
        if (!(rule as Schema[]).some((option) => jsonSchemaErrors(option, value, path).length === 0)) fail("matches none of the anyOf options");
        break;
      default:
        if (!ANNOTATIONS.has(keyword)) throw new Error(`${path}: JSON Schema keyword ${keyword} is outside the subset this validator knows`);
    }
  }
  return errors;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "integer":
      return Number.isInteger(value);
    case "null":
      return value === null;
    default:
      return typeof value === type;
  }
}
