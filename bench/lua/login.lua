-- args: invocation number, JSON body.
local body = nil

function init(args)
   block = (tonumber(args[1]) * 8 + id) % 256
   body = args[2]
end

function request()
   local headers = {["Content-Type"] = "application/json", ["X-Forwarded-For"] = client_address()}
   return wrk.format("POST", nil, headers, body)
end
