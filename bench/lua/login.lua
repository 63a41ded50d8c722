-- args: invocation number, number of login accounts, JSON body with "{n}" in the email.
local template = nil
local accounts = 1
local sent = 0

function init(args)
   block = (tonumber(args[1]) * 8 + id) % 256
   accounts = tonumber(args[2])
   template = args[3]
end

function request()
   -- Each thread walks its own half of the accounts, so no account is used twice in a run.
   sent = sent + 1
   local n = (sent * 2 + id) % accounts
   local body = string.gsub(template, "{n}", tostring(n))
   local headers = {["Content-Type"] = "application/json", ["X-Forwarded-For"] = client_address()}
   return wrk.format("POST", nil, headers, body)
end
