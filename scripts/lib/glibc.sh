# glibc_ceiling BINARY: prints the highest GLIBC_x.y symbol version BINARY's dynamic symbols need
# (nothing for a binary that needs none). Sourced by scripts/build-monitor and
# scripts/check-monitor-zip: Amazon Linux 2023, the Lambda function's system, has glibc 2.34.
glibc_ceiling() {
  objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -1
}

# glibc_at_most VERSION MAX: true when VERSION <= MAX (as version numbers: 2.9 < 2.34).
glibc_at_most() {
  [[ $(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -1) == "$2" ]]
}
