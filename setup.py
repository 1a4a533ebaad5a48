from packaging.version import Version
from configparser import ConfigParser
import setuptools, shlex

assert Version(setuptools.__version__) >= Version('36.2')

# note: all settings are in settings.ini; edit there, not here
config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

cfg_keys = 'version description keywords author author_email'.split()
expected = cfg_keys + "lib_name user branch license status min_python audience language".split()
for o in expected: assert o in cfg, "missing expected setting: {}".format(o)
setup_cfg = {o: cfg[o] for o in cfg_keys}

licenses = {
    'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License'),
    'mit': ('MIT License', 'OSI Approved :: MIT License'),
}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12 3.13'.split()

requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
modelopt_requirements = shlex.split(cfg.get('modelopt_requirements', ''))  # optional: the int8 cross-check, never imported by the package
serve_requirements = shlex.split(cfg.get('serve_requirements', ''))  # optional: autovoice-trt serve (PyTriton, numpy<2: its own venv)
gpu_requirements = shlex.split(cfg.get('gpu_requirements', ''))  # optional: ONNX Runtime's CUDA provider (replaces the CPU onnxruntime wheel)
tensorrt_requirements = shlex.split(cfg.get('tensorrt_requirements', ''))  # optional: full TensorRT; its libraries come from NVIDIA's index
min_python = cfg['min_python']
lic = licenses.get(cfg['license'].lower(), (cfg['license'], None))

setuptools.setup(
    name=cfg['lib_name'],
    license=lic[0],
    classifiers=['Development Status :: ' + statuses[int(cfg['status'])],
                 'Intended Audience :: ' + cfg['audience'].title(),
                 'Natural Language :: ' + cfg['language'].title()] +
                ['Programming Language :: Python :: ' + o for o in py_versions[py_versions.index(min_python):]] +
                (['License :: ' + lic[1]] if lic[1] else []),
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['autovoice_trt', 'autovoice_trt.*']),  # the package and its layers (models, graphs, backends, evaluation)
    include_package_data=True,
    package_data={'autovoice_trt': ['*.yaml', 'weights/*.safetensors']},  # the config defaults and the trained weights (nbs/70_training)
    install_requires=requirements,
    extras_require={'dev': dev_requirements, 'modelopt': modelopt_requirements, 'serve': serve_requirements,
                    'gpu': gpu_requirements, 'tensorrt': tensorrt_requirements},
    python_requires='>=' + cfg['min_python'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f'{cfg.get("lib_path")}={cfg.get("lib_path")}._modidx:d'],
    },
    **setup_cfg)
