/*
 * test_discovery.c: the Home Assistant discovery config (sensor/discovery.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "discovery.h"

static struct discovery_info
info(const char *device)
{
	struct discovery_info d = {
		.prefix = "homeassistant", .device = device, .source = "sim",
		.sw_version = "0.1.0", .period_s = 1, .rate_hz = 100,
	};

	return d;
}

#define assert_has(hay, needle) assert_non_null(strstr((hay), (needle)))

static void
discovery_config_carries_the_fields_home_assistant_reads(void **state)
{
	struct discovery_info d = info("pi-sensor-1");
	char buf[DISCOVERY_PAYLOAD_MAX];
	int n;

	(void)state;
	n = discovery_config(&d, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_has(buf, "\"name\":\"Temperature\"");
	assert_has(buf, "\"unique_id\":\"pitemp_pi-sensor-1_temperature\"");
	assert_has(buf, "\"default_entity_id\":\"sensor.pitemp_pi_sensor_1_temperature\"");
	assert_has(buf, "\"state_topic\":\"pitemp/pi-sensor-1/summary\"");
	assert_has(buf, "\"value_template\":\"{{ value_json.mean }}\"");
	assert_has(buf, "\"unit_of_measurement\":\"\xc2\xb0" "C\"");
	assert_has(buf, "\"device_class\":\"temperature\"");
	assert_has(buf, "\"state_class\":\"measurement\"");
	assert_has(buf, "\"expire_after\":3");
	assert_has(buf, "\"availability\":[{\"topic\":\"pitemp/pi-sensor-1/status\","
	    "\"payload_available\":\"online\",\"payload_not_available\":\"offline\"}]");
	assert_has(buf, "\"device\":{\"identifiers\":[\"pitemp_pi-sensor-1\"],"
	    "\"name\":\"pi-sensor-1\",\"model\":\"TMP36, simulated (10-bit ADC)\","
	    "\"manufacturer\":\"pitemp\",\"sw_version\":\"0.1.0\"}");
	/* Never the 100 Hz topic; never the deprecated object_id. */
	assert_null(strstr(buf, "/temperature"));
	assert_null(strstr(buf, "object_id"));
}

static void
discovery_topic_and_entity_id_use_what_home_assistant_accepts(void **state)
{
	struct discovery_info d = info("Lab.Pi-2_");
	char buf[DISCOVERY_PAYLOAD_MAX];

	(void)state;
	assert_true(discovery_topic(&d, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "homeassistant/sensor/pitemp_Lab_Pi-2_/config");
	assert_true(discovery_status_topic(&d, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "homeassistant/status");
	assert_true(discovery_config(&d, buf, sizeof(buf)) > 0);
	/* lower case, one '_' per run of others, none at the end */
	assert_has(buf, "\"default_entity_id\":\"sensor.pitemp_lab_pi_2_temperature\"");
	d = info("._-");
	assert_true(discovery_config(&d, buf, sizeof(buf)) > 0);
	assert_has(buf, "\"default_entity_id\":\"sensor.pitemp_device_temperature\"");
	d.prefix = "ha/site1";
	assert_true(discovery_topic(&d, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "ha/site1/sensor/pitemp___-/config");
}

static void
discovery_model_names_the_adc(void **state)
{
	(void)state;
	assert_string_equal(discovery_model("mcp3008:/dev/spidev0.0:0"),
	    "TMP36 via MCP3008 (10-bit SPI ADC)");
	assert_string_equal(discovery_model("ads1115:/dev/i2c-1:0x48:0"),
	    "TMP36 via ADS1115 (16-bit I2C ADC)");
	assert_string_equal(discovery_model("iio:mcp3008:0"), "TMP36 via a Linux IIO ADC");
	assert_string_equal(discovery_model("sim:42"), "TMP36, simulated (10-bit ADC)");
	assert_string_equal(discovery_model("replay:x.txt"), "TMP36, replayed from a file");
	assert_string_equal(discovery_model("simulated"), "TMP36");
}

static void
discovery_expire_after_is_a_few_summary_intervals(void **state)
{
	(void)state;
	assert_int_equal(discovery_expire_after(1, 100), 3);
	assert_int_equal(discovery_expire_after(0.1, 100), 3);
	assert_int_equal(discovery_expire_after(10, 100), 30);
	assert_int_equal(discovery_expire_after(2.5, 0), 8);
	/* 0.2 Hz: a window holds a reading only every 5 s. */
	assert_int_equal(discovery_expire_after(1, 0.2), 15);
}

static void
discovery_config_reports_a_short_buffer(void **state)
{
	struct discovery_info d = info(
	    "0123456789012345678901234567890123456789012345678901234567890123");
	char buf[DISCOVERY_PAYLOAD_MAX], small[64];

	(void)state;
	d.source = "mcp3008:/dev/spidev0.0:0";
	assert_true(discovery_config(&d, buf, sizeof(buf)) > 0);  /* the longest fits */
	assert_int_equal(discovery_config(&d, small, sizeof(small)), -ENOSPC);
	d.period_s = 0;
	assert_int_equal(discovery_config(&d, buf, sizeof(buf)), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(discovery_config_carries_the_fields_home_assistant_reads),
		cmocka_unit_test(discovery_topic_and_entity_id_use_what_home_assistant_accepts),
		cmocka_unit_test(discovery_model_names_the_adc),
		cmocka_unit_test(discovery_expire_after_is_a_few_summary_intervals),
		cmocka_unit_test(discovery_config_reports_a_short_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
