-- wrk: POSTs sign_upload as the page does. Each thread keeps the first uploader cookie it is
-- given, so the run signs for a few uploaders (the way browsers keep theirs), not one per request.
local cookie = nil
local body = "file_name=bench.txt&size=1024&content_type=text%2Fplain&access_code="

request = function()
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
  }
  if cookie then headers["Cookie"] = cookie end
  return wrk.format("POST", "/api/sign_upload", headers, body)
end

response = function(status, headers, body)
  if not cookie and headers["Set-Cookie"] then
    cookie = headers["Set-Cookie"]:match("^[^;]+")
  end
end
