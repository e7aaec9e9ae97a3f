"""GET /pyfetch?url=U: one outbound GET through geofn.outbound, with the
`token` variable as a bearer token when set; answers what came back, or
lets the SDK's OutboundError become the 502/504 problem."""

from geofn import App, config, json_response, outbound

app = App()


@app.get("/pyfetch")
def fetch(request):
    url = request.single("url") or ""
    token = config.get("token")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = outbound.get(url, headers=headers)
    return json_response({"status": answer.status, "bytes": len(answer.body),
                          "json": answer.json() if answer.status == 200 else None})


WitWorld = app.world()
