#!/usr/bin/env bash
# mkcerts.sh DIR - make the test PKI: a CA, a second (untrusted) CA, and
# certificates for "alpha" and "beta" (both usable as client and server),
# an expired "old", a "beta" signed by the wrong CA, a self-signed one, and
# for name matching: "wild" (DNS:*.example.com), "ipcn" (CN=alpha, only
# IP:127.0.0.2) and "nosan" (CN=alpha, no SAN).
# Uses only the openssl command line, as a first-time user would.
set -euo pipefail
d=${1:?usage: mkcerts.sh DIR}
mkdir -p "$d"
cd "$d"
[ -f done ] && [ -f nosan.pem ] && exit 0

ca() { # name
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$1" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
leaf() { # name ca days-or-"expired"
	local name=$1 signer=$2 days=$3
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$name.key" -out "$name.csr" -subj "/CN=${name%%-*}" \
		2>/dev/null
	printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' \
		"${name%%-*}" >"$name.ext"
	if [ "$days" = expired ]; then
		# A certificate whose validity ended yesterday.
		openssl x509 -req -in "$name.csr" -CA "$signer.pem" \
			-CAkey "$signer.key" -CAcreateserial -out "$name.pem" \
			-extfile "$name.ext" -not_before 20200101000000Z \
			-not_after "$(date -u -d yesterday +%Y%m%d%H%M%SZ)" \
			2>/dev/null ||
		{ # openssl < 3.4 has no -not_before: use a throwaway CA config
			openssl ca -batch -config <(printf '[ca]\ndefault_ca=c\n[c]\ndatabase=idx\nnew_certs_dir=.\ncertificate=%s.pem\nprivate_key=%s.key\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\nserial=serial\n[p]\ncommonName=supplied\n' "$signer" "$signer") \
				-in "$name.csr" -out "$name.pem" -startdate 20200101000000Z \
				-enddate "$(date -u -d yesterday +%Y%m%d%H%M%SZ)" \
				-extfile "$name.ext" -notext 2>/dev/null
		}
	else
		openssl x509 -req -in "$name.csr" -CA "$signer.pem" \
			-CAkey "$signer.key" -CAcreateserial -out "$name.pem" \
			-days "$days" -extfile "$name.ext" 2>/dev/null
	fi
	rm -f "$name.csr" "$name.ext"
}

# named NAME CN SAN: a CA-signed certificate with that CN and
# subjectAltName (SAN "" for none), to test name matching.
named() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
	{
		[ -n "$3" ] && printf 'subjectAltName=%s\n' "$3"
		printf 'extendedKeyUsage=serverAuth,clientAuth\n'
	} >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
		-CAcreateserial -out "$1.pem" -days 365 -extfile "$1.ext" \
		2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

touch idx
echo 01 >serial
ca ca
ca otherca
leaf alpha ca 365
leaf beta ca 365
leaf old ca expired
leaf beta-wrongca otherca 365
named wild wild 'DNS:*.example.com'
named ipcn alpha 'IP:127.0.0.2'
named nosan alpha ''
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout self.key -out self.pem -days 365 -subj /CN=beta \
	-addext subjectAltName=DNS:beta 2>/dev/null
touch done
