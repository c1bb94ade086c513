/* SPDX-License-Identifier: MIT */
/* ML-DSA-87: arithmetic checks against definitions, known answers from the
 * NIST ACVP vectors (embedded so the test stands alone), random round
 * trips, tamper detection and strict signature decoding.
 * UM_TEST_ITERATIONS scales the round-trip count (default 1000). */
#include <stdint.h>
#include <stdlib.h>

#include <sodium.h>

#include "crypto/mldsa.h"
#include "crypto/mldsa_internal.h"
#include "crypto/sha3.h"
#include "test.h"
#include "util/error.h"

enum { Q = UM_MLDSA_Q, GAMMA2 = UM_MLDSA_GAMMA2, HINT_OFFSET = UM_MLDSA87_SIG_BYTES - UM_MLDSA_HINT_BYTES };

static size_t hex_decode(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2;
	for (size_t i = 0; i < n && i < cap; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static int sha3_matches(const uint8_t *data, size_t len, const char *hex)
{
	uint8_t digest[32], expect[32];
	um_sha3_256(digest, data, len);
	hex_decode(expect, sizeof expect, hex);
	return memcmp(digest, expect, 32) == 0;
}

/* Deterministic test data: SHAKE256(label || counter). */
static void test_bytes(uint8_t *out, size_t len, uint32_t label, uint32_t counter)
{
	uint8_t in[8] = {(uint8_t)label,   (uint8_t)(label >> 8),   (uint8_t)(label >> 16),   (uint8_t)(label >> 24),
			 (uint8_t)counter, (uint8_t)(counter >> 8), (uint8_t)(counter >> 16), (uint8_t)(counter >> 24)};
	um_shake256(out, len, in, sizeof in);
}

static int64_t mod_q(int64_t a)
{
	a %= Q;
	return a < 0 ? a + Q : a;
}

/* Decompose / Power2Round / UseHint against FIPS 204's definitions, for
 * every r in [0, q). */
static void test_rounding_exhaustive(void)
{
	int bad_decompose = 0, bad_power2 = 0, bad_hint = 0;

	for (int32_t r = 0; r < Q; r++) {
		int32_t r0 = r % (2 * GAMMA2), r1, got0, got1, p1, p0;
		if (r0 > GAMMA2)
			r0 -= 2 * GAMMA2;
		if (r - r0 == Q - 1) {
			r1 = 0;
			r0 -= 1;
		} else {
			r1 = (r - r0) / (2 * GAMMA2);
		}
		got1 = um_mldsa_decompose(&got0, r);
		bad_decompose += got1 != r1 || got0 != r0;

		int32_t e0 = r % 8192;
		if (e0 > 4096)
			e0 -= 8192;
		um_mldsa_power2round(&p1, &p0, r);
		bad_power2 += p0 != e0 || p1 != (r - e0) / 8192;

		int32_t expect = r0 > 0 ? (r1 + 1) % 16 : (r1 + 15) % 16;
		bad_hint += um_mldsa_use_hint(1, r) != expect || um_mldsa_use_hint(0, r) != r1;
	}
	CHECK_EQ(bad_decompose, 0);
	CHECK_EQ(bad_power2, 0);
	CHECK_EQ(bad_hint, 0);
}

static void test_reductions(void)
{
	int32_t samples[] = {0, 1, -1, Q, -Q, Q - 1, 2 * Q, -2 * Q, INT32_MAX - Q, -INT32_MAX + Q, 123456789};
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		int32_t f = um_mldsa_freeze(samples[i]);
		CHECK(f >= 0 && f < Q && f == mod_q(samples[i]));
		int32_t r = um_mldsa_reduce32(samples[i]);
		CHECK(r >= -6283009 && r <= 6283008 && mod_q(r) == mod_q(samples[i]));
	}
	struct um_mldsa_poly p;
	for (int i = 0; i < UM_MLDSA_N; i++)
		p.coeffs[i] = (i * 7919) % Q - Q / 2;
	um_mldsa_poly_center(&p);
	for (int i = 0; i < UM_MLDSA_N; i++)
		CHECK(p.coeffs[i] >= -(Q - 1) / 2 && p.coeffs[i] <= (Q - 1) / 2);
	CHECK_EQ(um_mldsa_poly_exceeds(&p, Q), 0);
	memset(&p, 0, sizeof p);
	p.coeffs[200] = -5;
	CHECK_EQ(um_mldsa_poly_exceeds(&p, 6), 0);
	CHECK_EQ(um_mldsa_poly_exceeds(&p, 5), 1);
}

/* NTT multiplication equals schoolbook multiplication mod X^256 + 1. */
static void test_ntt_multiply(void)
{
	struct um_mldsa_poly a, b, ah, bh, prod;
	int64_t expect[UM_MLDSA_N] = {0};
	uint8_t buf[2 * 4 * UM_MLDSA_N];

	test_bytes(buf, sizeof buf, 1, 0);
	for (int i = 0; i < UM_MLDSA_N; i++) {
		uint32_t x, y;
		memcpy(&x, buf + 4 * i, 4);
		memcpy(&y, buf + 4 * (UM_MLDSA_N + i), 4);
		a.coeffs[i] = (int32_t)(x % (2 * Q - 1)) - (Q - 1);
		b.coeffs[i] = (int32_t)(y % (2 * Q - 1)) - (Q - 1);
	}
	for (int i = 0; i < UM_MLDSA_N; i++)
		for (int j = 0; j < UM_MLDSA_N; j++) {
			int64_t t = mod_q((int64_t)a.coeffs[i] * b.coeffs[j]);
			if (i + j < UM_MLDSA_N)
				expect[i + j] = mod_q(expect[i + j] + t);
			else
				expect[i + j - UM_MLDSA_N] = mod_q(expect[i + j - UM_MLDSA_N] - t);
		}
	ah = a;
	bh = b;
	um_mldsa_ntt(&ah);
	um_mldsa_ntt(&bh);
	um_mldsa_poly_pointwise(&prod, &ah, &bh);
	um_mldsa_invntt_tomont(&prod);
	int bad = 0;
	for (int i = 0; i < UM_MLDSA_N; i++)
		bad += mod_q(prod.coeffs[i]) != expect[i];
	CHECK_EQ(bad, 0);

	/* Round trip: invntt_tomont(ntt(a)) = a * 2^32. */
	ah = a;
	um_mldsa_ntt(&ah);
	um_mldsa_invntt_tomont(&ah);
	bad = 0;
	for (int i = 0; i < UM_MLDSA_N; i++)
		bad += mod_q(um_mldsa_montgomery_reduce(ah.coeffs[i])) != mod_q(a.coeffs[i]);
	CHECK_EQ(bad, 0);
}

/* The sparse products c s (bytes) and c t0 (int32) used by signing equal
 * the exact negacyclic schoolbook product, including the extreme inputs
 * that push the byte sums to +-tau eta. */
static void test_sparse_challenge_multiply(void)
{
	for (uint32_t iteration = 0; iteration < 40; iteration++) {
		struct um_mldsa_poly c, s, t0, got;
		struct um_mldsa_challenge ch;
		int8_t s_ext[2 * UM_MLDSA_N];
		int32_t t0_ext[2 * UM_MLDSA_N];
		int64_t expect_s[UM_MLDSA_N] = {0}, expect_t0[UM_MLDSA_N] = {0};
		uint8_t ctilde[UM_MLDSA_CTILDE_BYTES], buf[2 * UM_MLDSA_N];
		int bad = 0, nonzero = 0;

		test_bytes(ctilde, sizeof ctilde, 7, iteration);
		test_bytes(buf, sizeof buf, 8, iteration);
		um_mldsa_sample_in_ball(&c, ctilde);
		for (int i = 0; i < UM_MLDSA_N; i++) {
			int32_t t0_raw = (int32_t)(buf[2 * i] | buf[2 * i + 1] << 8) & 0x1fff;

			s.coeffs[i] = (int32_t)(buf[i] % 5) - 2;
			t0.coeffs[i] = (1 << 12) - t0_raw; /* (-2^12, 2^12] */
			if (iteration == 1) {              /* worst case for the byte sums */
				s.coeffs[i] = 2 * (c.coeffs[i] >= 0 ? 1 : -1);
				t0.coeffs[i] = 1 << 12;
			} else if (iteration == 2) {
				s.coeffs[i] = -2;
				t0.coeffs[i] = -(1 << 12) + 1;
			}
		}
		for (int i = 0; i < UM_MLDSA_N; i++) {
			if (c.coeffs[i] == 0)
				continue;
			nonzero++;
			for (int j = 0; j < UM_MLDSA_N; j++) {
				int sign = i + j < UM_MLDSA_N ? 1 : -1;
				int k = (i + j) % UM_MLDSA_N;

				expect_s[k] += sign * c.coeffs[i] * s.coeffs[j];
				expect_t0[k] += sign * c.coeffs[i] * t0.coeffs[j];
			}
		}
		CHECK_EQ(nonzero, UM_MLDSA_TAU);
		um_mldsa_challenge_from_poly(&ch, &c);
		CHECK_EQ((int)(ch.plus_count + ch.minus_count), UM_MLDSA_TAU);
		um_mldsa_small_extend(s_ext, &s);
		um_mldsa_t0_extend(t0_ext, &t0);
		um_mldsa_small_mul(&got, &ch, s_ext);
		for (int i = 0; i < UM_MLDSA_N; i++)
			bad += got.coeffs[i] != expect_s[i];
		um_mldsa_t0_mul(&got, &ch, t0_ext);
		for (int i = 0; i < UM_MLDSA_N; i++)
			bad += got.coeffs[i] != expect_t0[i];
		CHECK_EQ(bad, 0);
	}
}

/* ACVP ML-DSA-87 keyGen (FIPS204), tcId 51 and 75: SHA3-256 of pk and sk. */
static void test_kat_keygen(void)
{
	static const struct {
		const char *seed, *pk_sha3, *sk_sha3;
	} cases[] = {
	    {"A16F5B0796703E2D1A0140A35CBF36EFABE70E752BA59B6A9A0E9C4B05302F73",
	     "9df39232077a88b3b36c0d4b37d2d369f942baaaa436cf5486a1f09d45d7ce0b",
	     "c41388f22cf3bc0ce79eb5fccfafeee5ec31e3d4321a8befe7f230d6c4841cf0"},
	    {"54FBD8252F04C8D001F5785B58FC669F426AE1967942974AC47D7AAA6A4B76F3",
	     "f9040418d36ff3b1a89bc0f4f06247d2ac2e0bc8290ceba70a10c72d64eef804",
	     "fedbb8ce51dbb1917b60973c9b29d24abb6a0e0c6c529b914c1f0ae7c46a64cf"},
	};
	static uint8_t pk[UM_MLDSA87_PK_BYTES], sk[UM_MLDSA87_SK_BYTES];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t seed[32];
		hex_decode(seed, sizeof seed, cases[i].seed);
		CHECK_EQ(um_mldsa87_keygen_seed(pk, sk, seed), 0);
		CHECK(sha3_matches(pk, sizeof pk, cases[i].pk_sha3));
		CHECK(sha3_matches(sk, sizeof sk, cases[i].sk_sha3));
	}
}

/* ACVP ML-DSA-87 sigGen (FIPS204) tgId 5 tcId 71: deterministic, external
 * interface, pure; the expected signature is checked through its SHA3-256. */
static const char kat_sign_sk[] =
    "8017268ECDDF9861CAA7A5CB52E3E24459F572446F278E22AF739B8E7C5F7ED5D8E7CF139BAA7D044F30D9C2C6280BB5"
    "89D88BCBF54B1F88DB5751B5FBDD68D5E38FD6701EC24FFE44AAB56BA005DFA2B379F375F3156DEBD3184659687B4DD2"
    "7407CC04E5D28CF8416743650B959DEEDD210FB09E37D1DA80EAF47731B7E9299A08900CC0112084809C860860180203"
    "278A0302669BB4801C38611332122184808C942401A65024036A22866C9CA261948880C2B429442862D9B60403B5690C"
    "1852E1240C618250829221248845D98611114241493652A0188124A08CD4A2201A3761A098819B242E82102E620422CB"
    "C6701B0622E146241303915048656406725312291A9768E3224909028602B450824030A420918246059AC260C8026890"
    "B64D1B134824912542941002262D0A3712133350A2282820168140B2890C22451436440A298CD0320619A9289A16118A"
    "C08522C00CD1C82DA1A64159066911946DE12869124062C9482CC9124E238810514644614851218044E11265031971C2"
    "060808334A9A32925124640BB641543831432630A32832A1A28DA2462E51460A8A04800A3122D4362E609281191412D2"
    "148964A02C1130496042500C886022A74143220D1AB321C1C23194084A4C4072180104A1C88803B89109948158186244"
    "2605A20664A0440EE1320410378254002110224081408A814648E2840509440D84B00C18457108356E9AC60D4A440410"
    "48519134289446509B9201CC288A22972049A408E3340A0419704A907119050C5A224891200524A72818102619036288"
    "047209448A62B80C23040C09086A18C78D90A04993A8409416080C1009C1B604202725A38248C9402298220222B44922"
    "C180E23224CB1830CC22298C80601487209332045408020C49441B102EDAC209500288A1C02D0244902300862092619A"
    "226C194788938090649821229284133582D3380C11230D18C069C9A08823C32C8A18055030680B070D9A90690808425C"
    "4406098570D3B82963986D0312511031910A04860B3524DC160E080344CC044CD322921181804CC80104144E88229258"
    "0480113304992845980631DA48319B28641AC181012601041911A21625CA1691E136269BA49153448E614284C1C8715B"
    "2811CC922014098820424D4226000446316096404C026820A1418CC291A280445906254AA44CCB42480A87054BB45162"
    "9420138049234285E408294C308C00491143262D13434D8B94911B278E232762219271094300C2220204496123C420C9"
    "3408A2482AD04680A13271A2444E9C063220300A4BA601D1088688126902B645D1408422428803994164108AD4968DD2"
    "28501BC24C0BA8908A068A24A61049C80454A069131486081985D3220AC0306DC4C420E3280E243869C0226C5010029B"
    "B00D5A1201D3A8311C3501D0826C122710D48021A19609204331D900820B932004960CDA926924015289384404846100"
    "92111995486034414AB801598804A092015846510B112A0085680CA871E1144A22886193169089946051102649202911"
    "B820108109C2326812B68C10006E42020C21C009009771611801C49049C4B05114B13124844108110443144683B23100"
    "858900910D58968D1233208318010C080403366C1C056A138510CCB8084CA488C302881C4065C030011A4661D416328A"
    "A84D014486D8B4451108245914424136520991400B100463048D5412501828229390654B062221B84D59389241B26D54"
    "104913454022C841A1C051023431C4004D5240654AC44923A38101302E011645E44460509205E20260A0348E58964522"
    "058161A669D2C81103A308D2B86011422DC3262D14222002B78D24B12D1C396C9432885AC0892244718828025C9828E2"
    "C2100C390220C62959021219C9415A284180844DC28680DC3452114810C394612319600822280024445C1806CB004018"
    "B4504C104A898610CA1825039488141308C1C691A0342C9A20025A380508B34C030086C3C24CD91666D0B069928089D4"
    "940113384CCB222AC9868D0C056AE4245014A0051426851838720B3530D1922418916108163111840D1C480DE146110C"
    "03694A182C484245A1989150200C02C588819211E1348E8B468118134E0041250A462410377253A40042C45004B2105C"
    "B6098B988004206DDB024C81A41059B671DA128A8B9621D8028CCBB80C044825731CC339F513854029C2EE8ECB6A64F9"
    "71A2B55EF47A1AB9AE6454DC9781F8D3DE99C62A1E6A85423460C4F4F8CAB8BDCC11F55FA6C14D2C9DBE546121697865"
    "1361EABBF51CB52EAF3AF93C2A57BBBBE7DA18B5681A864EADB0F618FFEBC54137A8FE9E78B3A579E717434E3427F79B"
    "D72756956B221D838CD58562F452F6B8C57A92CED08886DB5486BCF4C484C7131CBB52043DF974156D79A65F5A1A253D"
    "27FD016E788EBC89986C3CA8BA03C0A992E10C4FFA8C09E2564DB78208EB9762F8F0291DE6017C3A7547F6874241F60E"
    "B60090383EFD0B7D527E9E865E61E2A4FED5DA043905540425D7FBAA2CBA7A4D610DAA5F511ACBA232286780689C5E3F"
    "1CFD8418F273A5A41D37613C922539307C55DAF627AEFC2D40A4C54F8EF0468E58F154B7591295CC50ED65577CD26D8B"
    "2FB3EDBDF8C9D5BC8DD81C3D41B3DF1B8199DD6EE8ED972B0BC5C3080DDFB277764B2BF9FBBBBA6EBC19239D70C2219B"
    "8845A1FD25D248C343CC26551FAC982B23AB0AEED81E950DD469FCC2FDD261A720AE784DB8131785D23223A3C9AAEDF5"
    "9D65F04BCD775E2EB3BB691E82D811E36266A62984ACF24077006034899911CF7799E09314F70E07D4A50C7BD737FCEB"
    "57CFE280A8AB5BFB0D9AF9B9903FDE4150D431B5D50CD7DAC2A2B80D58C7E259A1D513D76155092D9433A6990D27DDCB"
    "2E48E0BB7DD08B877B285C7FEC7EAF9E94D4F0F7C05F57BBDE2D44320884584B31F7325FE9B21C039669FD3523B96A7A"
    "3B2D4FE6367F4861D43B9587C10DD1B59DE2CEEFB1DE7F1DF9C1510FF2B0F8957F6466717AB80CAE9EABFC7C4E5C4ABD"
    "D3E61BFFE2AB813B828F672212EB44D660B1DDE52226319E6E7AF205EAE0EAD09A872AFD0D0C66BA4A1F7B70C9E295B9"
    "268CAE662FCF93E875E90005722345142E91FA9FD4D844C502723DBEAD4D94FDA35659E12C84E06F178CC9852D6EB6A3"
    "DE8768D13183F7C6524506705343AFFF50CD470AD9FA2C309994F9F3CEEA7121DA1429DF2DA2B6A3B41533DA78DEE8E5"
    "8A044C30572DBB0AAA43FECB70BD64860F6729CE200661AC67576901119ED77B493130E9FAEF83930ED632D47621A9F9"
    "54394DBBD021A395F1E8C68C837D16FC12A1F80137F313E9E5E453521084764EE86E696E46AB14C815F7924D4EDEC59D"
    "DF684F3CA818EE8810B60C70717F9D522C2CF557054EF6731FB45A8E41EF4153D0AB80E10A9900D91FC9E4548BA66D7D"
    "A5227AC86B49612F10BDFEA0A9ED831181F81E7A176FEE3936887F5FA96898113C3D3E668D9284AE27695182202BAC5D"
    "88D5397A1F3907C185D96DF9C7A7441A9AE8F72EA5D3DD5757C77FB1D963F7B6A5AC8C1E9FC4764248023161BCAB7D56"
    "5F5387C819E9CAC9FD426453577E519B84E4EC3504994A0322508D610D97610CFF37FD90F68236F1514EDDA711C65D76"
    "25C60782EF1D2A55EE3BFCAD5E1EB02EF94E0252404CB5518BB2951ACBED0E8AFB13B8DCCB17AC921F0A8BABA4513949"
    "52434D98EE0E7846005FDC9DDF90E432F0C7D0CF04C44553DDA6D8D179C292F521D979E720ADD4EF2C3DA0E9F8A4EA88"
    "DEF71465C468320452997CCC6BABC48B3A8B3ADE1443D7F33ECAB090610E9E2D2BDCD30D0831A82626266B1BBE4976DB"
    "9D056DCC49CDB00A0BF7FFEB6664981C56B6D5F5956CE3199C5C22AEE460A9F26CA2704F417CECAB1FBCE48D0AE1F806"
    "E9CFEF9F3B829D116C2641A1D9DACEB5C6E17DEFC47915402D30C9951FE0D9EC4FBF8C4E56E0E5163FD7F5345B20C769"
    "C473A27DC490AB346D3512C700781E061748DCEEEAB2F636C552411BC2FAE0D06CF73821AB5AF59D302C178D968F067E"
    "1C191EAF16C7A2684A9C6E9CC11CAA713F274A14390B791D2D988B0ACC6210105723F1B4738725BEAA843F04FBF5B2DF"
    "4A530E7A6C65C40B6FA0030B976E1C72CAABCD2D80160E6C7AF67CA57FD99F8716EFBE2715A29F0B1657288B81F65059"
    "84F6438C7B9AF760E8284B7C0419B33F06AC227B082B650E71741E7439345C3BAD2DCE68DF8BD6DE1CB272F3972E1C9F"
    "7911A97DEA8A3EA129D2BEC944DB0EC00701A97438E685368A892CB4A62DB88D0A2C9CF32353476417D1802805E14B8A"
    "A81B6DCD82AFE2C7034FE6F93FFBB02DF6AC6E4963B7BE34F562EEBAB360744D6A0BDB7006FCC1E7D612509CEF30C450"
    "89DF24F17406A6827420B1700A163075640A36479D39A76E530043115EE2014EE7B75A140B5C2276D3F08E24CE52BA18"
    "9D5A5DF6DFBAA31ADE9252B021305F25D0E3854702CA815F08E4B9CD4660A0324600723592F65DCF20F717221365F27C"
    "B2D59EC20B00BC8420F1646FE950D9AAA36235727DD31813927C03803A6AB139077E0D934DAB59646A41C0217FC79125"
    "E1510646798828910396D561A359E0ECDD4279FC29489C8D57F96A00E6365B04C26A16DC978B1CFD4652B418DC094201"
    "631ABCD63ECE47A65922AA85EC37219701755CB7B4E80FE7C5D5F5244BD049C104F753C5EE41037CBAC226B993137356"
    "D262BC2792599C701A4ED56F7C9BC1F29F340AE0654A92409E85437A07FD1482FB5BD31318CC9D32E64170877EE33D1B"
    "D0749122E09A15DDACB1873154BAAA1331064387600D4956B9D6ED713AC9699B787601408BFA7D60A948AFF81AE18088"
    "185BE3A0EC8291444A12BF6D66251FEF604F626BE65E99D93A3508CBBEFC614CDA9F21E5F581A29E082F0612B45F430A"
    "C28B41B5758A5AA01F1133956BF7E74B556587CC4EE053FED49E604DD98FA748781D289F3C33C2BFA1D6856AFDED5338"
    "5F85789F254BDF2F0A38C6524BF6629BF9EBF0BB6EB9243192E413CD3AF72E434356AE1D1ECB673A6BDA4CEF6C4F725F"
    "EB38C170D903CD94A6F63FA681E4EF783F5F04B81732588985CBCFBB77647A936645B41E350EBF314712AE4596C096B3"
    "5FF8959DC74ED3C1C1A9FDDB515347191A0B416C14FDBD17764C7E79093D54670C9B765E0E34911BEDDEB753D9A498F9"
    "BDA4C0C2846BA7F90FF9096580C23D726C1EE5E06C5EE177F8FA89BBDE0395AFA912B333373F6332999544EC8289367E"
    "02EB9421560B273803018A9FAD69AC3FD40058B0CE7E943D04138B615D7E419AB8E5FE41217C2F89D1D05A15C81F03CA"
    "7F5066BB2331D01DBC1CF41A6A4DCD13D6BC6B6662CB197B29CE4EE0080390E2C56B008F7A980F419E4F8774FD68694F"
    "E22DDE3D2AC82E27B1198B9AB27B696CF9159C00BFE7591DE363575FD840FAB117F262163370C83C446DB90AF2B5BF8D"
    "0DB7522EC758A5B01766440351B783519326FD6B8D9DBF5ECF2570ED224EE89C90596BF9182281F642D462E4E8114BEA"
    "1263F95073AF7A0538BDE48F1214247F54E16AAC03C4EFCB8444799DB502B226F5E25D133027E40D49E39B5ABF9DE39C"
    "C0505258904BDDC86EACFE00DB5ACD6B5876EE4020843519F6E9FF8F4E4BAAAC67884DCBFBDF7FD2AA50EB1EA5502C2B"
    "131B6C05CA88CC8E50A82BAFB85A6551F217F7E0BB34585E7197147CC6D9FC4D83D6C154CDD83BE53F9177268178F218"
    "B006EF08279B9BF478A2EA4D830096E1134E43C402261AD03D0A191ADA0ED3A6C414962B03E5F0639B5C38515A9B2DCB"
    "B8FDDB7C43FCF452340E329A3F002577C7DDF0303600FA65B3C98431972EDF5025ABFB214133E5AE086D368500537590"
    "57BF9E916AEBD2DA606CF968F4D22980C550D824A4FC48EE401D9870E2A301321A9EEFA141B611FBC32853D379B4D89B"
    "CAD945753B28F37B4FC027A849111C35C86E0EBE55CE32EB7BD74ED6914A97B0D684086A79602CF4083CF586F3762E91"
    "9A2A4590AF036446EEE8FA46267F1C52F1EC00740A30BC303A20AD6D88422FCAC98B75CB328E0AB384F25F127D4E3ABD"
    "45B659604BAF9575EEDFC09EEFB34DAC2A2A31A3B4D730C95E9B00A01D4B4C30E5B48601CB3A1772FBB5D3A64F8020AA"
    "428A5C63C64A2C8F7B852418256BCFC54F49F4F059303607A64CEE51237E810328E7CA5871C9A921516198F656192BB2"
    "6070E2D81F0540674E3FAB8B5F4412BF0CCC8BE7EEE6F449C7660638E7C54B62FE1D32B003484434171644474946C6C5"
    "7EB78D1E5467F88B89399755757348E59C23409D3C9E2FCCEF450FE0EC7F32108CCA9ED8ACB22E6A2183F6CC339FEB66"
    "EFA3AD4AAAB0D89B3333A2C0D56FFD879B0D39F71CBADC50A72B2ABA11750E34EABB8F34BC0ECB28F1B0FDAAA722B843"
    "D062DE4125D7CBD06BF02E34324B3A70A2F74AD5A678DE3441CD5BA5C11A2E2D4C226E44305F9AC21B640E6A7757805D"
    "BE3B5261B5568478CFB289E0A78840B9B92941D3E27C8200D34CD06D61A711862F41C61017CC9FF25D4C9ED1FA06BA6B"
    "548B5616ED9CAA1983350AD111AA495F97A5720677D34780CD7A788E50AD07D1637FFC987B4988D880C3C096DDB943B4"
    "F5B4C1120882061036350C32B23CAEA6D79C81EB6514FA855A2A524A4D61172EB9A4A7662F914B2437D81CA7A60CB5C6"
    "B9E598BD40A724F6753FFFC1625AECF5A34AFA5317BA3A6D12B563F9E755350C03C97B41A76F8B920ABF2D2B35D3188D"
    "926D43F4CB675DCE635CA757E4B203794567C0421CE08261D8063CD2E74A6CF73F26F4E7DAC3B1FB46F15DA003A34120"
    "F704F65AF3B2EC16BB6E88D1699086141C164D5DF34AF3A872AB6F73F5ED5D69B27968F7173115BF1638CE5E79297B31";
static const char kat_sign_msg[] =
    "C0BB389E968BD5094D33B8A44102B5EEF74FBA67E4924150FE12B0D93714E376974D5B5A54D743B25D9374672F99649725C6"
    "DAE1E387F21C168D75D93D339DC29BE83EA69ADAB4D1309DEFD7AE57DE74ECEE0CD4D67F5ED5F4F63408A8734F4C6B23BF0D"
    "0E5186319AB060415DE6124A961E4D8D8008E55AF64CF7200C4F8190DE4DBEC1A27492397B8C";
static const char kat_sign_ctx[] =
    "3E927B92DCAAC2E70334D11901E11A097C9E0B05C8A7318198F92E258EA2ABCA147C2BDCCA0FFEE860EB596D12CF1A5B20FD"
    "32039F79A6696E45A2DB9223D25CA2E4E81C3C3B07AEA2AA7E6F11A0C63A";

static void test_kat_sign(void)
{
	static uint8_t sk[UM_MLDSA87_SK_BYTES], sig[UM_MLDSA87_SIG_BYTES], sig2[UM_MLDSA87_SIG_BYTES];
	uint8_t msg[138], ctx[80], mprime[2 + 80 + 138], rnd[32] = {0};

	CHECK_EQ(hex_decode(sk, sizeof sk, kat_sign_sk), sizeof sk);
	CHECK_EQ(hex_decode(msg, sizeof msg, kat_sign_msg), sizeof msg);
	CHECK_EQ(hex_decode(ctx, sizeof ctx, kat_sign_ctx), sizeof ctx);
	CHECK_EQ(um_mldsa87_sign(sig, msg, sizeof msg, ctx, sizeof ctx, sk, 1), 0);
	CHECK(sha3_matches(sig, sizeof sig, "0712dfa1de2255ba7eba19d9352e455b132b5fa56f36aea6ac53eaee6213d205"));

	/* The internal interface with M' built by hand gives the same bytes. */
	mprime[0] = 0;
	mprime[1] = sizeof ctx;
	memcpy(mprime + 2, ctx, sizeof ctx);
	memcpy(mprime + 2 + sizeof ctx, msg, sizeof msg);
	CHECK_EQ(um_mldsa87_sign_internal(sig2, mprime, sizeof mprime, sk, rnd), 0);
	CHECK_MEM(sig, sig2, sizeof sig);
}

static uint32_t iteration_count(void)
{
	const char *env = getenv("UM_TEST_ITERATIONS");
	long n = env ? strtol(env, NULL, 10) : 1000;
	return n > 0 ? (uint32_t)n : 1000;
}

static void flip_bit(uint8_t *buf, size_t len, uint32_t random)
{
	size_t bit = random % (len * 8);
	buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

/* Random keys, messages and contexts: every signature verifies; one flipped
 * bit (random position) in signature, public key or message, or another
 * context, fails. Buffers are regenerated each iteration. */
static void test_round_trips(void)
{
	static uint8_t pk[UM_MLDSA87_PK_BYTES], sk[UM_MLDSA87_SK_BYTES], sig[UM_MLDSA87_SIG_BYTES];
	uint32_t n = iteration_count();
	int bad_sign = 0, bad_verify = 0, forged_sig = 0, forged_pk = 0, forged_msg = 0, forged_ctx = 0;

	for (uint32_t it = 0; it < n; it++) {
		uint8_t seed[32], msg[64], ctx[32], rand[16];
		uint32_t r[4];

		test_bytes(seed, sizeof seed, 2, it);
		test_bytes(msg, sizeof msg, 3, it);
		test_bytes(ctx, sizeof ctx, 4, it);
		test_bytes(rand, sizeof rand, 5, it);
		memcpy(r, rand, sizeof r);
		size_t msg_len = r[0] % (sizeof msg + 1), ctx_len = r[1] % (sizeof ctx + 1);

		um_mldsa87_keygen_seed(pk, sk, seed);
		bad_sign += um_mldsa87_sign(sig, msg, msg_len, ctx, ctx_len, sk, 0) != 0;
		bad_verify += um_mldsa87_verify(sig, sizeof sig, msg, msg_len, ctx, ctx_len, pk) != 0;

		/* One tamper check per iteration, rotating through the kinds. */
		switch (it % 4) {
		case 0:
			flip_bit(sig, sizeof sig, r[2]);
			forged_sig += um_mldsa87_verify(sig, sizeof sig, msg, msg_len, ctx, ctx_len, pk) != -UM_EBADMSG;
			break;
		case 1:
			flip_bit(pk, sizeof pk, r[3]);
			forged_pk += um_mldsa87_verify(sig, sizeof sig, msg, msg_len, ctx, ctx_len, pk) != -UM_EBADMSG;
			break;
		case 2:
			if (msg_len == 0)
				msg_len = 1; /* sig was over the empty message */
			flip_bit(msg, msg_len, r[2] ^ r[3]);
			forged_msg += um_mldsa87_verify(sig, sizeof sig, msg, msg_len, ctx, ctx_len, pk) != -UM_EBADMSG;
			break;
		default: {
			/* Another context: one byte longer or shorter. */
			size_t other_len = ctx_len < sizeof ctx ? ctx_len + 1 : ctx_len - 1;
			forged_ctx +=
			    um_mldsa87_verify(sig, sizeof sig, msg, msg_len, ctx, other_len, pk) != -UM_EBADMSG;
			break;
		}
		}
	}
	CHECK_EQ(bad_sign, 0);
	CHECK_EQ(bad_verify, 0);
	CHECK_EQ(forged_sig, 0);
	CHECK_EQ(forged_pk, 0);
	CHECK_EQ(forged_msg, 0);
	CHECK_EQ(forged_ctx, 0);
}

static uint8_t g_pk[UM_MLDSA87_PK_BYTES], g_sk[UM_MLDSA87_SK_BYTES];

static void test_context_and_determinism(void)
{
	static uint8_t sig1[UM_MLDSA87_SIG_BYTES], sig2[UM_MLDSA87_SIG_BYTES];
	uint8_t ctx[256], msg[] = "umbra";

	memset(ctx, 0x5a, sizeof ctx);
	CHECK_EQ(um_mldsa87_sign(sig1, msg, sizeof msg, ctx, 256, g_sk, 1), -UM_EINVAL);
	CHECK_EQ(um_mldsa87_sign(sig1, msg, sizeof msg, ctx, 255, g_sk, 1), 0);
	CHECK_EQ(um_mldsa87_verify(sig1, sizeof sig1, msg, sizeof msg, ctx, 255, g_pk), 0);
	CHECK_EQ(um_mldsa87_verify(sig1, sizeof sig1, msg, sizeof msg, ctx, 256, g_pk), -UM_EINVAL);
	ctx[100] ^= 1;
	CHECK_EQ(um_mldsa87_verify(sig1, sizeof sig1, msg, sizeof msg, ctx, 255, g_pk), -UM_EBADMSG);

	/* Empty context given as NULL, empty message as NULL. */
	CHECK_EQ(um_mldsa87_sign(sig1, NULL, 0, NULL, 0, g_sk, 1), 0);
	CHECK_EQ(um_mldsa87_verify(sig1, sizeof sig1, NULL, 0, NULL, 0, g_pk), 0);

	CHECK_EQ(um_mldsa87_sign(sig1, msg, sizeof msg, NULL, 0, g_sk, 1), 0);
	CHECK_EQ(um_mldsa87_sign(sig2, msg, sizeof msg, NULL, 0, g_sk, 1), 0);
	CHECK_MEM(sig1, sig2, sizeof sig1);
	CHECK_EQ(um_mldsa87_sign(sig1, msg, sizeof msg, NULL, 0, g_sk, 0), 0);
	CHECK_EQ(um_mldsa87_sign(sig2, msg, sizeof msg, NULL, 0, g_sk, 0), 0);
	CHECK(memcmp(sig1, sig2, sizeof sig1) != 0);
	CHECK_EQ(um_mldsa87_verify(sig1, sizeof sig1, msg, sizeof msg, NULL, 0, g_pk), 0);
	CHECK_EQ(um_mldsa87_verify(sig2, sizeof sig2, msg, sizeof msg, NULL, 0, g_pk), 0);
}

/* An s1 field of 7 decodes to eta - 7 = -5: not a valid key, refused. */
static void test_malformed_secret_key(void)
{
	static uint8_t sk[UM_MLDSA87_SK_BYTES], sig[UM_MLDSA87_SIG_BYTES];
	uint8_t mu[64] = {0}, rnd[32] = {0};

	memcpy(sk, g_sk, sizeof sk);
	sk[128] |= 0x07; /* first 3-bit field of s1 */
	CHECK_EQ(um_mldsa87_sign(sig, mu, sizeof mu, NULL, 0, sk, 1), -UM_EINVAL);
	memcpy(sk, g_sk, sizeof sk);
	sk[128 + 7 * 96 + 95] |= 0xe0; /* last field of s2[0] */
	CHECK_EQ(um_mldsa87_sign_mu(sig, mu, sk, rnd), -UM_EINVAL);
	CHECK_EQ(um_mldsa87_sign_mu(sig, mu, g_sk, rnd), 0);
}

static void test_mu_and_internal(void)
{
	static uint8_t sig[UM_MLDSA87_SIG_BYTES], sig2[UM_MLDSA87_SIG_BYTES];
	uint8_t mprime[] = "any M' at all", tr[64], mu[64], rnd[32];
	struct um_keccak h;

	test_bytes(rnd, sizeof rnd, 6, 0);
	CHECK_EQ(um_mldsa87_sign_internal(sig, mprime, sizeof mprime, g_sk, rnd), 0);
	CHECK_EQ(um_mldsa87_verify_internal(sig, sizeof sig, mprime, sizeof mprime, g_pk), 0);
	CHECK_EQ(um_mldsa87_verify_internal(sig, sizeof sig, mprime, sizeof mprime - 1, g_pk), -UM_EBADMSG);

	um_shake256(tr, sizeof tr, g_pk, sizeof g_pk);
	um_shake256_init(&h);
	um_keccak_absorb(&h, tr, sizeof tr);
	um_keccak_absorb(&h, mprime, sizeof mprime);
	um_keccak_squeeze(&h, mu, sizeof mu);
	CHECK_EQ(um_mldsa87_sign_mu(sig2, mu, g_sk, rnd), 0);
	CHECK_MEM(sig, sig2, sizeof sig);
	CHECK_EQ(um_mldsa87_verify_mu(sig, sizeof sig, mu, g_pk), 0);
	mu[0] ^= 0x80;
	CHECK_EQ(um_mldsa87_verify_mu(sig, sizeof sig, mu, g_pk), -UM_EBADMSG);
}

/* Writes a 20-bit packed z value (gamma1 - z) for coefficient 0 of z[0]. */
static void set_z0(uint8_t *sig, int32_t z)
{
	uint32_t v = (uint32_t)(UM_MLDSA_GAMMA1 - z);
	uint8_t *p = sig + UM_MLDSA_CTILDE_BYTES;
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)((p[2] & 0xf0) | ((v >> 16) & 0x0f));
}

static void test_malformed_signatures(void)
{
	static uint8_t sig[UM_MLDSA87_SIG_BYTES], bad[UM_MLDSA87_SIG_BYTES + 1];
	uint8_t msg[] = "malformed";
	uint8_t *hints = bad + HINT_OFFSET;
	uint32_t tries = 0;

	/* Find a signature with two hints in one polynomial (most have). */
	int pair = -1;
	do {
		msg[0] = (uint8_t)tries;
		CHECK_EQ(um_mldsa87_sign(sig, msg, sizeof msg, NULL, 0, g_sk, 1), 0);
		const uint8_t *counts = sig + HINT_OFFSET + UM_MLDSA_OMEGA;
		unsigned prev = 0;
		for (int i = 0; i < UM_MLDSA_K && pair < 0; prev = counts[i], i++)
			if (counts[i] - prev >= 2)
				pair = (int)prev;
	} while (pair < 0 && ++tries < 50);
	CHECK(pair >= 0);
	CHECK_EQ(um_mldsa87_verify(sig, sizeof sig, msg, sizeof msg, NULL, 0, g_pk), 0);

	/* Wrong lengths. */
	memcpy(bad, sig, sizeof sig);
	CHECK_EQ(um_mldsa87_verify(bad, sizeof sig - 1, msg, sizeof msg, NULL, 0, g_pk), -UM_EBADMSG);
	CHECK_EQ(um_mldsa87_verify(bad, sizeof sig + 1, msg, sizeof msg, NULL, 0, g_pk), -UM_EBADMSG);
	CHECK_EQ(um_mldsa87_verify(NULL, 0, msg, sizeof msg, NULL, 0, g_pk), -UM_EBADMSG);
	CHECK_EQ(um_mldsa87_verify_internal(bad, 17, msg, sizeof msg, g_pk), -UM_EBADMSG);

	/* Hint indices not strictly increasing (swapped, then repeated). */
	if (pair >= 0) {
		memcpy(bad, sig, sizeof sig);
		uint8_t t = hints[pair];
		hints[pair] = hints[pair + 1];
		hints[pair + 1] = t;
		CHECK_EQ(um_mldsa87_verify(bad, sizeof sig, msg, sizeof msg, NULL, 0, g_pk), -UM_EBADMSG);
		hints[pair] = hints[pair + 1];
		CHECK_EQ(um_mldsa87_verify(bad, sizeof sig, msg, sizeof msg, NULL, 0, g_pk), -UM_EBADMSG);
	}

	/* Count above omega, and counts that decrease. */
	memcpy(bad, sig, sizeof sig);
	hints[UM_MLDSA_OMEGA + UM_MLDSA_K - 1] = UM_MLDSA_OMEGA + 1;
	CHECK_EQ(um_mldsa87_verify(bad, sizeof sig, msg, sizeof msg, NULL, 0, g_pk), -UM_EBADMSG);
	memcpy(bad, sig, sizeof sig);
	if (hints[UM_MLDSA_OMEGA + UM_MLDSA_K - 1] > 0) {
		hints[UM_MLDSA_OMEGA] = hints[UM_MLDSA_OMEGA + UM_MLDSA_K - 1];
		hints[UM_MLDSA_OMEGA + 1] = 0;
		CHECK_EQ(um_mldsa87_verify(bad, sizeof sig, msg, sizeof msg, NULL, 0, g_pk), -UM_EBADMSG);
	}

	/* Nonzero padding after the last hint. */
	memcpy(bad, sig, sizeof sig);
	unsigned total = hints[UM_MLDSA_OMEGA + UM_MLDSA_K - 1];
	if (total < UM_MLDSA_OMEGA) {
		hints[UM_MLDSA_OMEGA - 1] = 1;
		CHECK_EQ(um_mldsa87_verify(bad, sizeof sig, msg, sizeof msg, NULL, 0, g_pk), -UM_EBADMSG);
	}

	/* z at the norm bound +-(gamma1 - beta), and the most negative value. */
	int32_t edges[] = {UM_MLDSA_GAMMA1 - UM_MLDSA_BETA, -(UM_MLDSA_GAMMA1 - UM_MLDSA_BETA), UM_MLDSA_GAMMA1,
			   -UM_MLDSA_GAMMA1 + 1};
	for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
		memcpy(bad, sig, sizeof sig);
		set_z0(bad, edges[i]);
		CHECK_EQ(um_mldsa87_verify(bad, sizeof sig, msg, sizeof msg, NULL, 0, g_pk), -UM_EBADMSG);
	}

	/* Direct HintBitUnpack checks. */
	struct um_mldsa_poly h[UM_MLDSA_K];
	uint8_t enc[UM_MLDSA_HINT_BYTES] = {0};
	CHECK_EQ(um_mldsa_hint_unpack(h, enc), 0);
	enc[0] = 3;
	enc[1] = 9;
	for (int i = 0; i < UM_MLDSA_K; i++)
		enc[UM_MLDSA_OMEGA + i] = 2;
	CHECK_EQ(um_mldsa_hint_unpack(h, enc), 0);
	CHECK_EQ(h[0].coeffs[3], 1);
	CHECK_EQ(h[0].coeffs[9], 1);
	CHECK_EQ(h[1].coeffs[3], 0);
	enc[1] = 3;
	CHECK_EQ(um_mldsa_hint_unpack(h, enc), -UM_EBADMSG);
	enc[1] = 9;
	enc[2] = 7;
	CHECK_EQ(um_mldsa_hint_unpack(h, enc), -UM_EBADMSG);
}

int main(void)
{
	uint8_t seed[32];

	if (sodium_init() < 0)
		return 1;
	test_bytes(seed, sizeof seed, 7, 0);
	um_mldsa87_keygen_seed(g_pk, g_sk, seed);

	RUN(test_rounding_exhaustive);
	RUN(test_reductions);
	RUN(test_ntt_multiply);
	RUN(test_sparse_challenge_multiply);
	RUN(test_kat_keygen);
	RUN(test_kat_sign);
	RUN(test_context_and_determinism);
	RUN(test_mu_and_internal);
	RUN(test_malformed_secret_key);
	RUN(test_malformed_signatures);
	RUN(test_round_trips);
	return um_test_end();
}
