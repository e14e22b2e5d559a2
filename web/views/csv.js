// RFC 4180 parsing for the client import: quoted fields, "" escapes, CRLF or LF.
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(field), (field = "");
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field), rows.push(row), (row = []), (field = "");
    } else field += c;
  }
  if (field || row.length) row.push(field), rows.push(row);
  return rows.filter((r) => r.some((f) => f.trim() !== ""));
}

const COLUMNS = { phone: "phone", operator_code: "operatorCode", operatorcode: "operatorCode", tag: "tag", timezone: "timezone" };

/** The header names the columns (phone, timezone, operator_code, tag); rows become ClientInputs.
 * Missing values stay empty strings so the server reports them per row, by field. */
export function clientRows(text) {
  const [header, ...rows] = parseCsv(text);
  if (!header) return { error: "The file is empty." };
  const names = header.map((h) => COLUMNS[h.trim().toLowerCase()]);
  if (!names.includes("phone") || !names.includes("timezone"))
    return { error: "The first line must name the columns: phone, timezone and optionally operator_code, tag." };
  const clients = rows.map((r) => {
    const c = { phone: "", timezone: "" };
    names.forEach((n, i) => {
      if (!n) return;
      const v = (r[i] ?? "").trim();
      if (n === "phone" || n === "timezone") c[n] = v;
      else if (v) c[n] = v;
    });
    return c;
  });
  return { clients };
}
