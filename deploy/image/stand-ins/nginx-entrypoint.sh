#!/bin/sh
# The part of the official nginx image's entry point (20-envsubst-on-templates.sh) that
# deploy/compose.yaml relies on: each /etc/nginx/templates/NAME.template becomes
# /etc/nginx/conf.d/NAME, with only the variables whose names match NGINX_ENVSUBST_FILTER
# (an awk regex; all when unset) filled in, so nginx's own $variables are left alone.
set -eu
if [ "${1:-}" = nginx ]; then
    template_dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
    suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
    output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
    filter=${NGINX_ENVSUBST_FILTER:-}
    if [ -d "$template_dir" ]; then
        # shellcheck disable=SC2016,SC2046
        defined_envs=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" </dev/null))
        find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
            relative_path=${template#"$template_dir/"}
            output_path=$output_dir/${relative_path%"$suffix"}
            mkdir -p "$(dirname "$output_path")"
            echo "$0: envsubst $template > $output_path"
            envsubst "$defined_envs" <"$template" >"$output_path"
        done
    fi
fi
exec "$@"
