// C wrappers around libpng and libjpeg-turbo (their errors longjmp, which Swift cannot cross).
#pragma once
