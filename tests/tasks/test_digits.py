from neurodl.tasks import DigitsConfig, train_digits


def test_digits_reach_97_percent_on_the_held_out_test_set():
    r = train_digits(DigitsConfig())
    assert r.test_accuracy >= 0.97
    assert r.n_test == 450 and r.n_train + r.n_val == 1347
    assert sum(map(sum, r.confusion)) == r.n_test
    assert sum(r.confusion[k][k] for k in range(10)) / r.n_test == r.test_accuracy
