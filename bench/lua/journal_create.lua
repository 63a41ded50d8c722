-- args: invocation number, access token. Every request writes (and seals) a new entry, so the
-- whole request is static: set once here, sent by wrk without a Lua call per request.
function init(args)
   block = (tonumber(args[1]) * 8 + id) % 256
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. args[2]
   wrk.body = '{"title":"An evening by the sea","mood":"neutral","tags":["walks","bench"],'
      .. '"body":"<p>I walked by the sea after work and felt <strong>calm</strong> for a while. '
      .. 'Tomorrow I want to call my sister and tell her about it.</p>"}'
end
