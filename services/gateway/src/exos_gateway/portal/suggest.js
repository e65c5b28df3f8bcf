// The values a filter can take, from the API (in the current time range), for the
// filter's suggestions.
const SUGGESTIONS = {
  page: ["/api/analytics/pages", { limit: 50 }, (d) => d.pages.map((r) => r.page)],
  operator: ["/api/process/operators", { limit: 100 }, (d) => d.operators.map((r) => r.operator_id)],
  team: ["/api/process/operators", { limit: 100 }, (d) => [...new Set(d.operators.map((r) => r.team))]],
  vendor: ["/api/ocpm/vendors", {}, (d) => d.vendors.map((r) => r.vendor_id)],
};
for (const dimension of ["service", "browser", "os", "device", "country", "city"]) {
  SUGGESTIONS[dimension] = ["/api/analytics/breakdown", { dimension }, (d) => d.rows.map((r) => r.value)];
}

/** Values seen for a filter key (nothing when the API cannot say); `get(path, params)`
 * asks the API in the current time range. */
export async function suggestions(key, get) {
  const source = SUGGESTIONS[key];
  if (!source) return [];
  const [path, extra, pick] = source;
  try {
    return pick(await get(path, extra)).filter(Boolean);
  } catch {
    return [];
  }
}

