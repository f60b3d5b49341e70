# bench/lease_pool.sh — sourced by bench/run.sh and bench/lease_ab.sh.
#
# lease_make_pool BASE ADMIN COUNT DIR: on the server at BASE (with the
# admin key ADMIN) creates COUNT profiles, each with one credential, and an
# exclusive pool holding all of them; prints the pool's id. The answers are
# kept in DIR. On any failure it prints why and returns 1.
lease_make_pool() {
  local base="$1" admin="$2" count="$3" dir="$4" code i pool members
  local ids=()
  local auth=(-H "Authorization: Bearer $admin" -H "Content-Type: application/json")
  # _lease_post PATH BODY OUT: the answer's status code, the body into OUT.
  _lease_post() {
    curl -sS --max-time 10 -o "$3" -w '%{http_code}' -X POST "${auth[@]}" \
      --data-binary "$2" "$base$1" || true
  }
  for ((i = 1; i <= count; i++)); do
    code="$(_lease_post /v1/agent-profiles \
      "{\"name\":\"p$i\",\"credentials\":[{\"name\":\"pw\",\"data\":\"secret$i\"}]}" "$dir/profile.out")"
    [[ "$code" == 201 ]] || { cat "$dir/profile.out" >&2; echo "POST /v1/agent-profiles answered $code" >&2; return 1; }
    ids+=("$(sed -n 's/^{"id":"\([^"]*\)".*/\1/p' "$dir/profile.out")")
    [[ -n "${ids[-1]}" ]] || { cat "$dir/profile.out" >&2; echo "no id in the profile answer" >&2; return 1; }
  done
  code="$(_lease_post /v1/agent-profile-pools '{"name":"bench"}' "$dir/pool.out")"
  [[ "$code" == 201 ]] || { cat "$dir/pool.out" >&2; echo "POST /v1/agent-profile-pools answered $code" >&2; return 1; }
  pool="$(sed -n 's/^{"id":"\([^"]*\)".*/\1/p' "$dir/pool.out")"
  [[ -n "$pool" ]] || { cat "$dir/pool.out" >&2; echo "no id in the pool answer" >&2; return 1; }
  grep -q '"allow_concurrent_use":false' "$dir/pool.out" || { echo "the pool is not exclusive: $(cat "$dir/pool.out")" >&2; return 1; }
  members="$(printf '"%s",' "${ids[@]}")"
  code="$(_lease_post "/v1/agent-profile-pools/$pool/profiles" "{\"profile_ids\":[${members%,}]}" "$dir/members.out")"
  [[ "$code" == 2?? ]] || { cat "$dir/members.out" >&2; echo "adding the profiles to the pool answered $code" >&2; return 1; }
  grep -q "\"profile_count\":$count\\b" "$dir/members.out" \
    || { echo "the pool does not hold $count profiles: $(cat "$dir/members.out")" >&2; return 1; }
  echo "$pool"
}
