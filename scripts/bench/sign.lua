-- wrk: POSTs sign_upload as the page does. Each thread keeps the first uploader cookie it is
-- given, so the run signs for a few uploaders (the way browsers keep theirs), not one per request.
local cookie = nil
-- A file of 1 KiB with its SHA-256, as the page sends it (files this small are always hashed).
local body = "file_name=bench.txt&size=1024&content_type=text%2Fplain&access_code="
  .. "&checksum_sha256=47DEQpj8HBSa%2B%2FTImW%2B5JCeuQeRkm5NMpJWZG3hSuFU%3D"

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
