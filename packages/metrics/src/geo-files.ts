/**
 * The GeoIP tables the dashboard opens, as paths inside their npm packages: geo.ts resolves them, and the
 * fst-geoip package ships these and nothing else of the packages' data (packaging/geoip.ts).
 */
export const GEOIP_FILES = {
  country: '@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb',
  asn4: '@ip-location-db/asn/asn-ipv4-num.csv',
  asn6: '@ip-location-db/asn/asn-ipv6-num.csv'
} as const
