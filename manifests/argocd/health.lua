hs = {status = "Progressing", message = "waiting for the operator"}
if obj.status ~= nil and obj.status.conditions ~= nil then
  local current = {}
  for _, c in ipairs(obj.status.conditions) do
    if c.observedGeneration == nil or c.observedGeneration == obj.metadata.generation then
      current[c.type] = c
    end
  end
  local ready, stalled, reconciling = current["Ready"], current["Stalled"], current["Reconciling"]
  if ready ~= nil then
    hs.message = (ready.reason or "") .. ": " .. (ready.message or "")
    if stalled ~= nil and stalled.status == "True" then
      if stalled.reason == "MassSuspensionPaused" then
        hs.status = "Suspended"
      else
        hs.status = "Degraded"
      end
    elseif reconciling ~= nil and reconciling.status == "True" then
      hs.status = "Progressing"
      hs.message = (reconciling.reason or "") .. ": " .. (reconciling.message or "")
    elseif ready.status == "True" then
      hs.status = "Healthy"
    end
  end
end
return hs
