//! The Redis store's Lua scripts: the takeover claim for keys that already
//! had a record, the completion that keeps the stored hash, the release.
//! Each starts with the reader of a record (string, or a hash written by an
//! earlier version).

/// The Lua function every script starts with: reads a record, string or
/// (written by earlier versions) hash; returns nil, or status, expiration,
/// in_progress_expiry, validation, data.
macro_rules! read_lua {
    () => {
        r"
local function read(key)
  local v = redis.pcall('GET', key)
  if type(v) == 'string' then
    local p1 = string.find(v, '|', 3, true)
    local p2 = p1 and string.find(v, '|', p1 + 1, true)
    local p3 = p2 and string.find(v, '|', p2 + 1, true)
    if not p3 then return nil end
    return string.sub(v, 1, 1), string.sub(v, 3, p1 - 1), string.sub(v, p1 + 1, p2 - 1),
      string.sub(v, p2 + 1, p3 - 1), string.sub(v, p3 + 1)
  end
  if type(v) == 'table' and v.err then
    local h = redis.call('HMGET', key, 'status', 'expiration', 'in_progress_expiry', 'validation', 'data')
    if not h[1] then return nil end
    local status = 'I'
    if h[1] == 'COMPLETED' then status = 'C' end
    return status, h[2] or '0', h[3] or '0', h[4] or '', h[5] or ''
  end
  return nil
end
"
    };
}

/// Claims every key: ARGV = now_ms, now_s, then per key: hash ("" = none),
/// in_progress_until_ms, expiration_s, ttl_ms. Returns per key {code, value}:
/// {"N",""} claimed, {"C",data,expiration_s} completed, {"I",in_progress_expiry_ms}, {"M",""} mismatch.
pub(super) const CLAIM_LUA: &str = concat!(
    read_lua!(),
    r"
local now_ms = tonumber(ARGV[1])
local now_s = tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local base = 2 + (i - 1) * 4
  local hash = ARGV[base + 1]
  local record = 'I|' .. ARGV[base + 3] .. '|' .. ARGV[base + 2] .. '|' .. hash .. '|'
  if redis.call('SET', key, record, 'NX', 'PX', ARGV[base + 4]) then
    out[i] = {'N', ''}
  else
    local status, expiration, ipe, validation, data = read(key)
    local claimable = true
    if status then
      claimable = (tonumber(expiration) or 0) < now_s or (status == 'I' and (tonumber(ipe) or 0) < now_ms)
    end
    if claimable then
      -- SET replaces a value of any type, an old hash record too
      redis.call('SET', key, record, 'PX', ARGV[base + 4])
      out[i] = {'N', ''}
    elseif validation ~= '' and hash ~= '' and validation ~= hash then
      out[i] = {'M', ''}
    elseif status == 'C' then
      out[i] = {'C', data, expiration}
    else
      out[i] = {'I', ipe}
    end
  end
end
return out
"
);

/// Completes every key, keeping the validation the claim stored: ARGV per
/// key: data, expiration_s, ttl_ms.
pub(super) const COMPLETE_LUA: &str = concat!(
    read_lua!(),
    r"
for i, key in ipairs(KEYS) do
  local base = (i - 1) * 3
  local _, _, _, validation = read(key)
  local record = 'C|' .. ARGV[base + 2] .. '|0|' .. (validation or '') .. '|' .. ARGV[base + 1]
  redis.call('SET', key, record, 'PX', ARGV[base + 3])
end
return #KEYS
"
);

/// Releases every in-progress key.
pub(super) const RELEASE_LUA: &str = concat!(
    read_lua!(),
    r"
local released = 0
for _, key in ipairs(KEYS) do
  local status = read(key)
  if status == 'I' then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"
);

/// The ordering guard: admits every key's position or reports it stale.
/// ARGV = now_s, then per key: position (20 digits), expiration_s, event id,
/// ttl_ms. A record is `<position>|<expiration s>|<event id>`; positions are
/// compared as two 10-digit halves (Lua numbers are exact only to 2^53).
/// Returns per key {"A"} admitted, {"S", position, event id} stale, or
/// {"X"} when the stored value is not a position record.
pub(super) const ADMIT_LUA: &str = r"
local now_s = tonumber(ARGV[1])
local function older(a, b)
  local ah, bh = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if ah ~= bh then return ah < bh end
  return tonumber(string.sub(a, 11)) < tonumber(string.sub(b, 11))
end
local out = {}
for i, key in ipairs(KEYS) do
  local base = 1 + (i - 1) * 4
  local pos = ARGV[base + 1]
  local v = redis.pcall('GET', key)
  local verdict = nil
  if type(v) == 'string' then
    local p1 = string.find(v, '|', 1, true)
    local p2 = p1 and string.find(v, '|', p1 + 1, true)
    local stored = p1 and string.sub(v, 1, p1 - 1)
    local expiration = p2 and tonumber(string.sub(v, p1 + 1, p2 - 1))
    if not expiration or string.len(stored) ~= 20 or not string.match(stored, '^%d+$') then
      verdict = {'X'}
    elseif expiration >= now_s then
      if older(pos, stored) then
        verdict = {'S', stored, string.sub(v, p2 + 1)}
      elseif pos == stored then
        verdict = {'A'}
      end
    end
  elseif type(v) == 'table' and v.err then
    verdict = {'X'}
  end
  if not verdict then
    redis.call('SET', key, pos .. '|' .. ARGV[base + 2] .. '|' .. ARGV[base + 3], 'PX', ARGV[base + 4])
    verdict = {'A'}
  end
  out[i] = verdict
end
return out
";
