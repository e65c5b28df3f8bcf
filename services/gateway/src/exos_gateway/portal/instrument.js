// The portal's own telemetry (EXOS_GATEWAY_INSTRUMENT=true): the HyperDX browser SDK sends
// traces, console output and rrweb replays of the portal to ingest, as any instrumented portal
// would, and /api/visitor's geo/device attributes are set on every span.
(function () {
  const config = JSON.parse(document.getElementById("exos-config").textContent).instrument;
  const sdk = window.HyperDX && (window.HyperDX.default || window.HyperDX);
  if (!config || !sdk) return;
  sdk.init({
    apiKey: config.apiKey,
    service: config.service,
    url: config.url,
    consoleCapture: true,
    advancedNetworkCapture: true,
    disableReplay: false,
    maskAllText: false,
    maskAllInputs: true,
  });
  window.exosTelemetry = sdk;
  fetch("/api/visitor", { headers: { accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null))
    .then((v) => {
      if (!v) return;
      const attrs = {
        "visitor.country": v.geo?.country, "visitor.city": v.geo?.city, "visitor.region": v.geo?.region,
        "visitor.org": v.network?.asOrganization, "visitor.asn": v.network?.asn,
        "visitor.browser": v.device?.browser, "visitor.browser_version": v.device?.browserVersion,
        "visitor.os": v.device?.os, "visitor.os_version": v.device?.osVersion,
        "visitor.device_type": v.device?.type, "visitor.language": v.visit?.acceptLanguage,
        "visitor.returning": v.visit?.isReturning, "visitor.visit_count": v.visit?.visitCount,
        "visitor.referer": v.request?.referer,
        "visitor.ip": v.visit?.ip, "visitor.id": v.visit?.visitorId,
      };
      const clean = {};
      for (const [k, val] of Object.entries(attrs)) if (val !== undefined && val !== null) clean[k] = String(val);
      sdk.setGlobalAttributes(clean);
    })
    .catch(() => {});
})();
