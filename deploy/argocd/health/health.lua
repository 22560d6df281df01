-- Argo CD health check for promptflow-netiso objects (PromptFlowWorkspace, OutboundRule, PrivateEndpointApproval).
-- Source of the three resource.customizations.health.netiso.promptflow.dev_<Kind> entries in ../argocd-cm-health.yaml.
-- Uses only what Argo CD opens for health scripts (base and table libraries).
--   reconcile-policy: skip, or a PrivateEndpointApproval in Observe mode  -> Suspended
--   spec not yet observed by the operator (observedGeneration < generation) -> Progressing
--   Stalled=True (cannot converge without a change: bad rights, refused rule, ...) -> Degraded
--   Ready=True -> Healthy;  anything else (converging, Azure busy, transient faults) -> Progressing
local hs = {status = "Progressing", message = "Waiting for the operator to report"}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

-- The condition's message (Azure errors read "<Code>: <message>"), else its reason.
local function describe(c)
  if c == nil then
    return ""
  end
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return c.reason or ""
end

local ready = condition("Ready")
local annotations = obj.metadata.annotations
if annotations ~= nil and annotations["netiso.promptflow.dev/reconcile-policy"] == "skip" then
  hs.status = "Suspended"
  hs.message = "reconcile-policy: skip (the operator only observes). " .. describe(ready)
  return hs
end
if obj.kind == "PrivateEndpointApproval" and obj.spec ~= nil and obj.spec.mode == "Observe" then
  hs.status = "Suspended"
  hs.message = "Observe mode (reports, approves nothing). " .. describe(ready)
  return hs
end

local generation = obj.metadata.generation
if obj.status ~= nil and generation ~= nil then
  local observed = obj.status.observedGeneration
  if observed == nil or observed < generation then
    hs.message = "The operator has not yet acted on generation " .. generation
    return hs
  end
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
if ready ~= nil then
  if ready.status == "True" then
    hs.status = "Healthy"
  end
  hs.message = describe(ready)
end
return hs
