#!/bin/sh
# Install Pigeonhole for the current user (no root needed).
#
#   ./install.sh            installs into ${XDG_DATA_HOME:-~/.local/share}/pigeonhole
#
# Adds: the app folder, a `pigeonhole` launcher in ${XDG_BIN_HOME:-~/.local/bin}, a menu entry
# (pigeonhole.desktop, with "Open with Pigeonhole" for folders and images) and the icon in the
# hicolor theme. Every file and every folder it creates is listed in
# <install dir>/install-manifest.txt; uninstall.sh (copied next to the app) removes exactly those.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
bin_home=${XDG_BIN_HOME:-$HOME/.local/bin}
prefix=$data_home/pigeonhole
app_dir=$prefix/app
manifest=$prefix/install-manifest.txt
desktop=$data_home/applications/pigeonhole.desktop
launcher=$bin_home/pigeonhole

[ -x "$here/Pigeonhole/Pigeonhole" ] || {
    echo "install.sh: $here/Pigeonhole/Pigeonhole not found; run me from the unpacked archive" >&2
    exit 1
}

# An older install is replaced, never mixed with this one.
if [ -f "$manifest" ] && [ -x "$prefix/uninstall.sh" ]; then
    echo "Removing the previous installation first"
    "$prefix/uninstall.sh" --quiet
fi

files=""    # what this run creates, for the manifest
folders=""
add_file() { files="$files$1
"; }
make_dir() {  # mkdir -p that remembers each folder it had to create
    d=$1
    while [ ! -d "$d" ]; do
        folders="$folders$d/
"
        d=$(dirname "$d")
    done
    mkdir -p "$1"
}

echo "Installing Pigeonhole into $app_dir"
make_dir "$prefix"
make_dir "$bin_home"
make_dir "$data_home/applications"
rm -rf "$prefix/.app.partial" "$app_dir"  # leftovers of an interrupted install: ours alone
cp -R "$here/Pigeonhole" "$prefix/.app.partial"
mv "$prefix/.app.partial" "$app_dir"  # appears complete or not at all
folders="$folders$app_dir/
"
cp "$here/uninstall.sh" "$prefix/uninstall.sh"
chmod 755 "$prefix/uninstall.sh"
add_file "$prefix/uninstall.sh"

# Launcher for terminals: `pigeonhole predict ...`, `pigeonhole --self-test`.
cat > "$launcher" <<LAUNCHER
#!/bin/sh
exec "$app_dir/Pigeonhole" "\$@"
LAUNCHER
chmod 755 "$launcher"
add_file "$launcher"

# Menu entry. Exec quotes the path, so escape what the Desktop Entry spec reserves inside
# quotes (" ` $ \ get an escaped backslash, % doubles); TryExec takes the plain path with
# only the string escape of backslashes. Substituted with awk's index/substr: no regex escaping.
exec_quoted=$(printf '%s' "$app_dir/Pigeonhole" | sed -e 's/\\/\\\\\\\\/g' -e 's/["`$]/\\\\&/g' -e 's/%/%%/g')
exec_plain=$(printf '%s' "$app_dir/Pigeonhole" | sed -e 's/\\/\\\\/g')
EXEC_QUOTED=$exec_quoted EXEC_PLAIN=$exec_plain awk '
    function put(line, key, value,    i) {
        if ((i = index(line, key)) > 0)
            line = substr(line, 1, i - 1) value substr(line, i + length(key))
        return line
    }
    { print put(put($0, "@EXEC_QUOTED@", ENVIRON["EXEC_QUOTED"]), "@EXEC_PLAIN@", ENVIRON["EXEC_PLAIN"]) }
' "$here/pigeonhole.desktop" > "$desktop"
chmod 644 "$desktop"
add_file "$desktop"

for size in 256 512; do
    dir=$data_home/icons/hicolor/${size}x${size}/apps
    make_dir "$dir"
    cp "$here/icons/pigeonhole-$size.png" "$dir/pigeonhole.png"
    add_file "$dir/pigeonhole.png"
done

if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$data_home/applications" || true
    case "$folders" in  # its cache is ours to remove only if the whole folder is ours
        *"$data_home/applications/"*) add_file "$data_home/applications/mimeinfo.cache" ;;
    esac
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$data_home/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t -f "$data_home/icons/hicolor" || true
fi

add_file "$manifest"
printf '%s%s' "$files" "$folders" > "$manifest"

echo "Done. Pigeonhole is in your applications menu."
case ":$PATH:" in
    *":$bin_home:"*) echo "From a terminal: pigeonhole --help" ;;
    *) echo "From a terminal: $launcher --help  (add $bin_home to PATH for plain 'pigeonhole')" ;;
esac
echo "To remove it: $prefix/uninstall.sh"
