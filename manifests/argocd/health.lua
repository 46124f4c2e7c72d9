hs = {status = "Progressing", message = "waiting for the operator"}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" and (c.observedGeneration == nil or
        c.observedGeneration == obj.metadata.generation) then
      hs.message = (c.reason or "") .. ": " .. (c.message or "")
      if c.status == "True" then
        hs.status = "Healthy"
      elseif c.reason == "MassSuspensionPaused" then
        hs.status = "Suspended"
      elseif c.reason == "SuspensionBudgetExceeded" or c.reason == "RateLimited"
          or c.reason == "AtlassianUnavailable" or c.reason == "OrgNotSynced"
          or c.reason == "OutcomeUnknown" then
        hs.status = "Progressing"
      else
        hs.status = "Degraded"
      end
    end
  end
end
return hs
